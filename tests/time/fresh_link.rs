//! "Send me a new link" on an expired invite: only the invited address gets it.
