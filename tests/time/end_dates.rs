//! Access end dates: an invite's, a workspace membership's and a firm Member's client
//! access end on the very next request once the clock passes them.
