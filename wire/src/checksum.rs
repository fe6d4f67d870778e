//! CRC-32C (Castagnoli), the OP_MSG checksum, computed by the maintained `crc32c` crate
//! (hardware CRC instructions where the CPU has them, a table otherwise). poolcheck keeps
//! only this one function and its test vectors.

/// CRC-32C of `bytes`, as OP_MSG's `checksum` field carries it (stored little-endian).
///
/// # Examples
/// ```
/// assert_eq!(wire::checksum::crc32c(b"123456789"), 0xE306_9283);
/// ```
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) appendix B.4 test vectors.
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
    }
}
