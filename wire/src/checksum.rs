//! CRC-32C (Castagnoli), the OP_MSG checksum.
//!
//! A byte-at-a-time table implementation: the table is built at compile time, there is no
//! dependency and no `unsafe`. OP_MSG checksums are optional and rare (drivers do not send
//! them), so throughput matters less than simplicity here.

/// The reflected Castagnoli polynomial.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// `TABLE[b]` is the CRC of the single byte `b`, before the final inversion.
const TABLE: [u32; 256] = build_table();

/// CRC-32C of `bytes`, as OP_MSG's `checksum` field carries it (stored little-endian).
///
/// # Examples
/// ```
/// assert_eq!(wire::checksum::crc32c(b"123456789"), 0xE306_9283);
/// ```
pub fn crc32c(bytes: &[u8]) -> u32 {
    let crc = bytes.iter().fold(!0u32, |crc, &byte| {
        let index = (crc ^ u32::from(byte)) & 0xFF;
        // `index` is masked to 0..=255, so it is always inside the table.
        TABLE[index as usize] ^ (crc >> 8)
    });
    !crc
}

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
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
