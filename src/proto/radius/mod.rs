//! RADIUS on the wire (RFC 2865, 2866, 2869, 5176): [`attribute`] (the one walk over the
//! attribute list), [`packet`] (a validated view of a datagram and a builder), [`crypto`] (shared secrets, authenticators,
//! Message-Authenticator, User-Password), [`vendor`] (vendor-specific attributes by NAS
//! dialect), [`class`] (the Class value that ties usage to a user and product) and
//! [`dynauth`] (Disconnect and CoA requests, and their replies).

pub mod attribute;
pub mod class;
pub mod crypto;
pub mod dynauth;
pub mod packet;
pub mod vendor;
