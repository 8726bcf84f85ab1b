//! SETTINGS handling (RFC 9113 §6.5, RFC 8441 §3, RFC 9218 §2.1): the peer's
//! current parameters and the SETTINGS frame we advertise from [`Config`].

use super::{Config, Role};
use crate::error::{Error, ErrorCode};
use crate::frame::{Settings, DEFAULT_MAX_FRAME_SIZE};

/// The peer's parameters as applied so far (RFC defaults until its SETTINGS arrive).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerSettings {
    pub header_table_size: u32,
    pub enable_push: bool,
    /// `u32::MAX` = unlimited.
    pub max_concurrent_streams: u32,
    pub initial_window_size: u32,
    pub max_frame_size: u32,
    /// `u32::MAX` = unlimited.
    pub max_header_list_size: u32,
    pub enable_connect_protocol: bool,
    pub no_rfc7540_priorities: bool,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: u32::MAX,
            initial_window_size: 65_535,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: u32::MAX,
            enable_connect_protocol: false,
            no_rfc7540_priorities: false,
        }
    }
}

impl PeerSettings {
    /// Validates role-specific rules and applies `s`. Returns the change of
    /// SETTINGS_INITIAL_WINDOW_SIZE (to apply to every stream's send window).
    /// Value ranges were already checked by the frame layer.
    pub(crate) fn apply(&mut self, s: &Settings, local_role: Role) -> Result<i64, Error> {
        if let Some(v) = s.enable_push {
            // §6.5.2: a server MUST NOT send 1; a client never pushes, so a
            // client announcing either value is fine for us as a server.
            if local_role == Role::Client && v != 0 {
                return Err(Error::conn(
                    ErrorCode::PROTOCOL_ERROR,
                    "server sent SETTINGS_ENABLE_PUSH=1",
                ));
            }
            self.enable_push = v == 1;
        }
        if let Some(v) = s.enable_connect_protocol {
            // RFC 8441 §3: once 1, must not be reset to 0.
            if self.enable_connect_protocol && v == 0 {
                return Err(Error::conn(
                    ErrorCode::PROTOCOL_ERROR,
                    "SETTINGS_ENABLE_CONNECT_PROTOCOL changed from 1 to 0",
                ));
            }
            self.enable_connect_protocol = v == 1;
        }
        if let Some(v) = s.header_table_size {
            self.header_table_size = v;
        }
        if let Some(v) = s.max_concurrent_streams {
            self.max_concurrent_streams = v;
        }
        if let Some(v) = s.max_frame_size {
            self.max_frame_size = v;
        }
        if let Some(v) = s.max_header_list_size {
            self.max_header_list_size = v;
        }
        if let Some(v) = s.no_rfc7540_priorities {
            self.no_rfc7540_priorities = v == 1;
        }
        let mut delta = 0;
        if let Some(v) = s.initial_window_size {
            delta = v as i64 - self.initial_window_size as i64;
            self.initial_window_size = v;
        }
        Ok(delta)
    }
}

/// The SETTINGS we advertise for `config` (only non-default values, plus
/// ENABLE_PUSH=0 from clients).
pub(crate) fn local_settings(config: &Config, role: Role) -> Settings {
    let mut s = Settings::default();
    if config.header_table_size != 4096 {
        s.header_table_size = Some(config.header_table_size);
    }
    if role == Role::Client {
        s.enable_push = Some(0);
    }
    s.max_concurrent_streams = Some(config.max_concurrent_streams);
    if config.initial_window_size != 65_535 {
        s.initial_window_size = Some(config.initial_window_size.min(crate::frame::MAX_WINDOW));
    }
    if config.max_frame_size != DEFAULT_MAX_FRAME_SIZE {
        s.max_frame_size = Some(
            config
                .max_frame_size
                .clamp(DEFAULT_MAX_FRAME_SIZE, crate::frame::MAX_MAX_FRAME_SIZE),
        );
    }
    s.max_header_list_size = Some(config.max_header_list_size);
    if role == Role::Server && config.enable_connect_protocol {
        s.enable_connect_protocol = Some(1);
    }
    if config.no_rfc7540_priorities {
        s.no_rfc7540_priorities = Some(1);
    }
    if crate::hpack::preset(config.hpack_preset).is_some() {
        s.hpack_preset = Some(config.hpack_preset);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_rejects_push() {
        let mut p = PeerSettings::default();
        let s = Settings {
            enable_push: Some(1),
            ..Default::default()
        };
        assert!(p.apply(&s, Role::Client).is_err());
        assert!(p.apply(&s, Role::Server).is_ok());
    }

    #[test]
    fn window_delta_and_connect_protocol() {
        let mut p = PeerSettings::default();
        let s = Settings {
            initial_window_size: Some(65_535 + 10),
            enable_connect_protocol: Some(1),
            ..Default::default()
        };
        assert_eq!(p.apply(&s, Role::Client), Ok(10));
        let s = Settings {
            enable_connect_protocol: Some(0),
            ..Default::default()
        };
        assert!(p.apply(&s, Role::Client).is_err());
    }
}
