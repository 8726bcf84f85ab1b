//! SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1), held without heap use.

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
}

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
}
