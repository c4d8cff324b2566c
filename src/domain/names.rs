//! Names of people, firms, clients and entities; passwords.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Trimmed, inner runs of whitespace collapsed, 1..=max characters, no control characters.
    pub fn parse(input: &str, what: &'static str, max: usize) -> Result<Name, String> {
        let s = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return Err(format!("Enter a {what}."));
        }
        if s.chars().count() > max {
            return Err(format!("The {what} can have at most {max} characters."));
        }
        if s.chars().any(char::is_control) {
            return Err(format!("The {what} contains characters that are not allowed."));
        }
        Ok(Name(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub struct Password(String);

impl Password {
    pub const MIN: usize = 10;

    pub fn parse(input: &str) -> Result<Password, String> {
        let n = input.chars().count();
        if n < Self::MIN {
            return Err(format!("Use at least {} characters for your password.", Self::MIN));
        }
        if n > 200 {
            return Err("Use at most 200 characters for your password.".into());
        }
        Ok(Password(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Name::parse("  Acme   Bakery ", "client name", 100).unwrap().as_str(), "Acme Bakery");
        assert!(Name::parse("   ", "client name", 100).is_err());
        assert!(Name::parse(&"x".repeat(101), "client name", 100).is_err());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough password").is_ok());
    }
}
