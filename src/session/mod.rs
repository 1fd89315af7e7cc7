//! Sessions: who is online now ([`online::OnlineTable`]). Accounting feeds the table; the
//! policy reads its counts; kicks are recorded on the session they end.

pub mod online;
