//! SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1), held without heap use.

use super::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW};
use crate::error::{Error, ErrorCode};

/// Known SETTINGS identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum SettingId {
    /// SETTINGS_HEADER_TABLE_SIZE
    HeaderTableSize = 0x1,
    /// SETTINGS_ENABLE_PUSH
    EnablePush = 0x2,
    /// SETTINGS_MAX_CONCURRENT_STREAMS
    MaxConcurrentStreams = 0x3,
    /// SETTINGS_INITIAL_WINDOW_SIZE
    InitialWindowSize = 0x4,
    /// SETTINGS_MAX_FRAME_SIZE
    MaxFrameSize = 0x5,
    /// SETTINGS_MAX_HEADER_LIST_SIZE
    MaxHeaderListSize = 0x6,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    EnableConnectProtocol = 0x8,
    /// SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218)
    NoRfc7540Priorities = 0x9,
    /// SETTINGS_H2O_HPACK_PRESET (experimental range, RFC 9113 §11.3): the
    /// shared HPACK table preset the sender offers (`conn` docs, README).
    HpackPreset = 0xf2c0,
}

/// Wire id of [`SettingId::HpackPreset`].
pub const SETTINGS_H2O_HPACK_PRESET: u16 = 0xf2c0;

/// The parameters carried by one SETTINGS frame: `None` = not present.
/// Fixed size, no heap; a repeated id keeps the last value, unknown ids are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH (0 or 1)
    pub enable_push: Option<u32>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0 or 1)
    pub enable_connect_protocol: Option<u32>,
    /// SETTINGS_NO_RFC7540_PRIORITIES (0 or 1)
    pub no_rfc7540_priorities: Option<u32>,
    /// SETTINGS_H2O_HPACK_PRESET (experimental): offered preset id
    pub hpack_preset: Option<u32>,
}

impl SettingId {
    /// Maps a wire identifier to a known setting, `None` for unknown ids (ignored).
    pub fn from_u16(id: u16) -> Option<Self> {
        Some(match id {
            0x1 => Self::HeaderTableSize,
            0x2 => Self::EnablePush,
            0x3 => Self::MaxConcurrentStreams,
            0x4 => Self::InitialWindowSize,
            0x5 => Self::MaxFrameSize,
            0x6 => Self::MaxHeaderListSize,
            0x8 => Self::EnableConnectProtocol,
            0x9 => Self::NoRfc7540Priorities,
            SETTINGS_H2O_HPACK_PRESET => Self::HpackPreset,
            _ => return None,
        })
    }
}

/// Every known id, in ascending id order (the order parameters are encoded in).
const ALL_IDS: [SettingId; 9] = [
    SettingId::HeaderTableSize,
    SettingId::EnablePush,
    SettingId::MaxConcurrentStreams,
    SettingId::InitialWindowSize,
    SettingId::MaxFrameSize,
    SettingId::MaxHeaderListSize,
    SettingId::EnableConnectProtocol,
    SettingId::NoRfc7540Priorities,
    SettingId::HpackPreset,
];

impl Settings {
    /// The value of `id`, if present.
    pub fn get(&self, id: SettingId) -> Option<u32> {
        match id {
            SettingId::HeaderTableSize => self.header_table_size,
            SettingId::EnablePush => self.enable_push,
            SettingId::MaxConcurrentStreams => self.max_concurrent_streams,
            SettingId::InitialWindowSize => self.initial_window_size,
            SettingId::MaxFrameSize => self.max_frame_size,
            SettingId::MaxHeaderListSize => self.max_header_list_size,
            SettingId::EnableConnectProtocol => self.enable_connect_protocol,
            SettingId::NoRfc7540Priorities => self.no_rfc7540_priorities,
            SettingId::HpackPreset => self.hpack_preset,
        }
    }

    fn slot(&mut self, id: SettingId) -> &mut Option<u32> {
        match id {
            SettingId::HeaderTableSize => &mut self.header_table_size,
            SettingId::EnablePush => &mut self.enable_push,
            SettingId::MaxConcurrentStreams => &mut self.max_concurrent_streams,
            SettingId::InitialWindowSize => &mut self.initial_window_size,
            SettingId::MaxFrameSize => &mut self.max_frame_size,
            SettingId::MaxHeaderListSize => &mut self.max_header_list_size,
            SettingId::EnableConnectProtocol => &mut self.enable_connect_protocol,
            SettingId::NoRfc7540Priorities => &mut self.no_rfc7540_priorities,
            SettingId::HpackPreset => &mut self.hpack_preset,
        }
    }

    /// Sets `id` to `value` without validation (for building frames to send).
    pub fn set(&mut self, id: SettingId, value: u32) {
        *self.slot(id) = Some(value);
    }

    /// True when no parameter is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Present parameters in ascending id order (no heap).
    pub fn iter(&self) -> impl Iterator<Item = (SettingId, u32)> + '_ {
        ALL_IDS
            .iter()
            .filter_map(move |&id| self.get(id).map(|v| (id, v)))
    }

    /// Checks one received value (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1).
    pub fn validate(id: SettingId, value: u32) -> Result<(), Error> {
        let bad = |code, reason| Err(Error::conn(code, reason));
        match id {
            SettingId::EnablePush if value > 1 => bad(
                ErrorCode::PROTOCOL_ERROR,
                "SETTINGS_ENABLE_PUSH must be 0 or 1",
            ),
            SettingId::InitialWindowSize if value > MAX_WINDOW => bad(
                ErrorCode::FLOW_CONTROL_ERROR,
                "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
            ),
            SettingId::MaxFrameSize
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) =>
            {
                bad(
                    ErrorCode::PROTOCOL_ERROR,
                    "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215",
                )
            }
            SettingId::EnableConnectProtocol if value > 1 => bad(
                ErrorCode::PROTOCOL_ERROR,
                "SETTINGS_ENABLE_CONNECT_PROTOCOL must be 0 or 1",
            ),
            SettingId::NoRfc7540Priorities if value > 1 => bad(
                ErrorCode::PROTOCOL_ERROR,
                "SETTINGS_NO_RFC7540_PRIORITIES must be 0 or 1",
            ),
            _ => Ok(()),
        }
    }

    /// Parses and validates a SETTINGS payload straight from the slice (no heap).
    /// Unknown ids are ignored; a repeated id keeps the last value.
    /// A length that is not a multiple of 6 is a connection FRAME_SIZE_ERROR.
    pub fn parse(payload: &[u8]) -> Result<Settings, Error> {
        if payload.len() % 6 != 0 {
            return Err(Error::conn(
                ErrorCode::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            ));
        }
        let mut s = Settings::default();
        for p in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            if let Some(id) = SettingId::from_u16(id) {
                Settings::validate(id, value)?;
                *s.slot(id) = Some(value);
            }
        }
        Ok(s)
    }

    /// Payload length of the encoded form (6 bytes per present parameter).
    pub fn encoded_len(&self) -> usize {
        6 * self.iter().count()
    }
}
