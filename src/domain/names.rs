//! Names of people, firms, clients and entities; passwords.

use unicode_normalization::UnicodeNormalization;

/// Characters that change how text around them reads without showing themselves: zero-width
/// spaces and joiners, direction marks, overrides and isolates, the byte-order mark. A name
/// holding one can look like another name ("Invoice \u{202e}gnp.exe" shows as "Invoice exe.png").
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}' // soft hyphen
            | '\u{034f}' // combining grapheme joiner
            | '\u{061c}' // Arabic letter mark
            | '\u{180e}' // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}' // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{202a}'..='\u{202e}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{206a}'..='\u{206f}' // deprecated format characters
            | '\u{feff}' // byte-order mark
            | '\u{fff9}'..='\u{fffb}' // interlinear annotation
            | '\u{e0000}'..='\u{e007f}' // tags
    )
}

/// Characters that render as nothing on their own (fillers, blank patterns, variation
/// selectors): allowed beside letters, but a name made only of them is empty to the eye.
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(c, '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}' | '\u{fe00}'..='\u{fe0f}')
        || ('\u{e0100}'..='\u{e01ef}').contains(&c)
        || ('\u{0300}'..='\u{036f}').contains(&c)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Normalised to NFC, trimmed, inner runs of whitespace collapsed, 1..=max characters;
    /// no control characters, no invisible ones (zero-width, direction overrides), and at
    /// least one character that shows.
    pub fn parse(input: &str, what: &'static str, max: usize) -> Result<Name, String> {
        if input.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            return Err(format!("The {what} contains control characters, which are not allowed."));
        }
        if input.chars().any(is_invisible) {
            return Err(format!(
                "The {what} contains invisible characters (zero-width or text-direction marks), which are not allowed."
            ));
        }
        let s = input.nfc().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return Err(format!("Enter a {what}."));
        }
        if s.chars().all(is_blank) {
            return Err(format!("The {what} has no visible characters."));
        }
        if s.chars().count() > max {
            return Err(format!("The {what} can have at most {max} characters."));
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
        // Tabs and line breaks are whitespace like any other; other control characters are not.
        assert_eq!(Name::parse("Acme\tBakery\n", "client name", 100).unwrap().as_str(), "Acme Bakery");
        for bad in ["Acme\u{0}", "Acme\u{7f}", "A\u{1b}[31m", "Acme\u{85}"] {
            assert!(Name::parse(bad, "client name", 100).unwrap_err().contains("control"), "{bad:?}");
        }
        for bad in ["Invoice \u{202e}gnp.exe", "Ac\u{200b}me", "\u{2066}Acme\u{2069}", "\u{feff}Acme", "A\u{200d}B"] {
            assert!(Name::parse(bad, "client name", 100).unwrap_err().contains("invisible"), "{bad:?}");
        }
        for blank in ["\u{3164}", "\u{2800}\u{2800}", "\u{115f} \u{1160}", "\u{fe0f}"] {
            assert!(Name::parse(blank, "client name", 100).unwrap_err().contains("visible"), "{blank:?}");
        }
        // Stored composed: "e" + combining acute becomes "é", one character.
        assert_eq!(Name::parse("Caf\u{65}\u{301}", "client name", 100).unwrap().as_str(), "Caf\u{e9}");
        assert_eq!(Name::parse(&"\u{e9}".repeat(100), "client name", 100).unwrap().as_str().chars().count(), 100);
        assert_eq!(Name::parse("名前 ناصر", "name", 100).unwrap().as_str(), "名前 ناصر");
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough password").is_ok());
    }
}
