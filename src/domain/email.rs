//! Email addresses: trimmed, lower-cased, one address with a real domain.

use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, &'static str> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err("Enter an email address.");
        }
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';') {
            return Err("Enter one email address, like name@example.com.");
        }
        let options =
            email_address::Options::default().with_required_tld().without_display_text().without_domain_literal();
        if email_address::EmailAddress::parse_with_options(&s, options).is_err() {
            return Err("Enter a valid email address, like name@example.com.");
        }
        // The mailer must accept it too, or the invite could never be sent.
        if s.parse::<lettre::Address>().is_err() {
            return Err("Enter a valid email address, like name@example.com.");
        }
        Ok(EmailAddress(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For values read back from the database, which were parsed on the way in.
    pub fn from_trusted(s: String) -> EmailAddress {
        EmailAddress(s)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One address of a comma-separated list, as the user typed it, and what it parsed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailListEntry {
    Valid(EmailAddress),
    Duplicate(EmailAddress),
    Invalid { input: String, reason: &'static str },
}

/// A list of addresses typed into one field, separated by commas, semicolons or new lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailList {
    pub entries: Vec<EmailListEntry>,
}

impl EmailList {
    pub const MAX: usize = 50;

    /// The valid addresses, each once, in the order typed.
    pub fn valid(&self) -> Vec<EmailAddress> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                EmailListEntry::Valid(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn parse(input: &str) -> Result<EmailList, String> {
        let parts: Vec<&str> = input.split([',', ';', '\n', '\r']).map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return Err("Enter at least one email address.".into());
        }
        if parts.len() > Self::MAX {
            return Err(format!("You entered {} addresses; send at most {} at once.", parts.len(), Self::MAX));
        }
        let mut seen = HashSet::new();
        let entries = parts
            .into_iter()
            .map(|p| match EmailAddress::parse(p) {
                Ok(e) if !seen.insert(e.clone()) => EmailListEntry::Duplicate(e),
                Ok(e) => EmailListEntry::Valid(e),
                Err(reason) => EmailListEntry::Invalid { input: p.to_string(), reason },
            })
            .collect();
        Ok(EmailList { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_validates() {
        assert_eq!(EmailAddress::parse("  Cleo@Client.TEST ").unwrap().as_str(), "cleo@client.test");
        for bad in [
            "",
            "cleo",
            "cleo@",
            "@client.test",
            "cleo@client",
            "a@b.c, d@e.f",
            "Cleo <cleo@client.test>",
            "cleo@[127.0.0.1]",
            "a b@client.test",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn parses_lists() {
        let list = EmailList::parse(" a@x.test, B@x.test,,a@X.test, nope ,\n c@x.test, ").unwrap();
        assert_eq!(list.entries.len(), 5);
        assert_eq!(list.entries.iter().filter(|e| matches!(e, EmailListEntry::Valid(_))).count(), 3);
        assert!(matches!(list.entries[2], EmailListEntry::Duplicate(_)));
        assert!(matches!(list.entries[3], EmailListEntry::Invalid { .. }));
        assert!(EmailList::parse(" , ").is_err());
        let many = (0..51).map(|i| format!("u{i}@x.test")).collect::<Vec<_>>().join(",");
        assert!(EmailList::parse(&many).is_err());
    }
}
