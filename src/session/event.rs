//! What the session journal takes: accounting events, whether a NAS sent them as
//! Accounting-Requests (`radius::accounting` reads those) or the portal made them.

use std::net::Ipv4Addr;

/// Acct-Status-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcctStatus {
    /// A session began.
    Start,
    /// A session ended.
    Stop,
    /// A session is still there.
    InterimUpdate,
    /// The NAS restarted: none of its sessions are online.
    AccountingOn,
    /// The NAS is going down: none of its sessions stay online.
    AccountingOff,
    /// Another value, acknowledged and otherwise ignored.
    Other(u32),
}

impl AcctStatus {
    /// The status of an Acct-Status-Type value.
    pub fn from_value(v: u32) -> AcctStatus {
        match v {
            1 => AcctStatus::Start,
            2 => AcctStatus::Stop,
            3 => AcctStatus::InterimUpdate,
            7 => AcctStatus::AccountingOn,
            8 => AcctStatus::AccountingOff,
            other => AcctStatus::Other(other),
        }
    }

    /// Label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            AcctStatus::Start => "start",
            AcctStatus::Stop => "stop",
            AcctStatus::InterimUpdate => "interim_update",
            AcctStatus::AccountingOn => "accounting_on",
            AcctStatus::AccountingOff => "accounting_off",
            AcctStatus::Other(_) => "other",
        }
    }
}

/// Something that happened to a session: an Accounting-Request as the journal needs
/// it, or a portal login or logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingEvent {
    /// Acct-Status-Type.
    pub status: AcctStatus,
    /// Acct-Session-Id (empty when absent, as for Accounting-On/Off).
    pub session_id: String,
    /// User-Name.
    pub user: String,
    /// Acct-Terminate-Cause (Stop).
    pub terminate_cause: Option<u32>,
    /// Acct-Session-Time, seconds.
    pub session_time: Option<u32>,
    /// Octets from the user (Acct-Input-Octets + 2^32 × Acct-Input-Gigawords).
    pub input_octets: u64,
    /// Octets to the user (Acct-Output-Octets + 2^32 × Acct-Output-Gigawords).
    pub output_octets: u64,
    /// Acct-Input-Gigawords or Acct-Output-Gigawords was present: the NAS counts past
    /// 4 GiB itself (a NAS that does not wraps its 32-bit counters).
    pub gigawords: bool,
    /// Framed-IP-Address.
    pub framed_ip: Option<Ipv4Addr>,
    /// NAS-IP-Address.
    pub nas_ip: Option<Ipv4Addr>,
    /// Calling-Station-Id.
    pub station: Option<String>,
    /// NAS-Port-Id, else NAS-Port.
    pub nas_port: Option<String>,
    /// The product instance the Access-Accept's Class named, when turnstile wrote it.
    pub class_product: Option<String>,
}
