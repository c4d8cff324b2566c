//! Email addresses: trimmed, lower-cased, one address with a real domain, in the plain
//! form every SMTP server delivers: a dot-atom local part (no quotes, no comments, ASCII),
//! a host name of letters, digits and hyphens, RFC 5321 lengths.

use std::collections::HashSet;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, &'static str> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err("Enter an email address.");
        }
        if s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';') {
            return Err("Enter one email address, like name@example.com.");
        }
        if s.len() > 254 {
            return Err("That email address is too long: at most 254 characters.");
        }
        if s.contains('"') || s.contains('(') || s.contains('\\') {
            return Err("Enter the address without quotes or comments, like name@example.com.");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("Enter a valid email address, like name@example.com.");
        };
        if local.len() > 64 {
            return Err("The part before @ is too long: at most 64 characters.");
        }
        if !is_dot_atom(local) || !is_host_name(domain) {
            return Err("Enter a valid email address, like name@example.com.");
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

/// RFC 5322 dot-atom: atext runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    !local.is_empty() && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext))
}

/// A host name with a top-level domain: labels of 1–63 letters, digits and inner hyphens.
fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld = labels.last().copied().unwrap_or("");
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"))
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
            "\"<img/src=x>\"@x.test",
            "\"cleo\"@client.test",
            "cleo(comment)@client.test",
            "a\\@b@client.test",
            ".cleo@client.test",
            "cleo.@client.test",
            "cl..eo@client.test",
            "cléo@client.test",
            "cleo@clïent.test",
            "cleo@-client.test",
            "cleo@client-.test",
            "cleo@client.123",
            "cleo@client..test",
            "cleo\u{0}@client.test",
            "cleo\u{202e}@client.test",
            "cleo\u{200b}@client.test",
            "a@b@client.test",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn lengths_and_plain_forms() {
        let local = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local}@client.test")).is_ok());
        assert!(EmailAddress::parse(&format!("{local}a@client.test")).unwrap_err().contains("64"));
        let label = "d".repeat(63);
        assert!(EmailAddress::parse(&format!("a@{label}.test")).is_ok());
        assert!(EmailAddress::parse(&format!("a@{label}d.test")).is_err());
        let long = format!("a@{}.test", vec!["d".repeat(60); 5].join("."));
        assert!(EmailAddress::parse(&long).unwrap_err().contains("254"));
        for good in
            ["o'brien@client.test", "a+tag@client.test", "first.last@sub.client.test", "x@xn--bcher-kva.example"]
        {
            assert!(EmailAddress::parse(good).is_ok(), "{good} should be accepted");
        }
        assert!(EmailAddress::parse("\"x\"@x.test").unwrap_err().contains("quotes"));
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
