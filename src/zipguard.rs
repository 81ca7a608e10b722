//! Every zip the platform reads (xlsx workbooks, 一人一档 archives, any later one) is first
//! unpacked into nothing, entry by entry, and refused when it holds more than its limits:
//! entries, bytes of one entry, bytes in all, or a compression ratio no real file has. A
//! decompression bomb (1.5 MB expanding to 1.5 GB) is thus refused after reading at most the
//! limit of one entry, in a fixed small buffer — before any parser holds it in memory.
//! The sizes the zip declares are not trusted: the bytes are counted as they come.

use std::io::Read;

/// What a zip may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// Uncompressed bytes per compressed byte, over the whole file.
    pub max_ratio: u64,
}

/// An xlsx workbook of the member import: 200,000 rows of 13 cells are about 60 MB of XML.
pub const WORKBOOK: Limits = Limits {
    max_entries: 200,
    max_entry_bytes: 96 * 1024 * 1024,
    max_total_bytes: 128 * 1024 * 1024,
    max_ratio: 200,
};

/// A recruitment file's archive: documents stored as they are (scans, photos, video).
pub const ARCHIVE: Limits = Limits {
    max_entries: 10_000,
    max_entry_bytes: 256 * 1024 * 1024,
    max_total_bytes: 512 * 1024 * 1024,
    max_ratio: 200,
};

/// Unpacks every entry of `bytes` into nothing, counting; `Err` (in Chinese) at the first
/// limit passed or on a damaged file.
pub fn check(bytes: &[u8], l: Limits) -> Result<(), String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| "不是有效的压缩文件".to_string())?;
    if z.len() > l.max_entries {
        return Err(format!("压缩文件内的文件过多（超过{}个）", l.max_entries));
    }
    let ratio_cap = (bytes.len() as u64).max(1).saturating_mul(l.max_ratio);
    let total_cap = l.max_total_bytes.min(ratio_cap.max(64 * 1024));
    let mut total: u64 = 0;
    let mut buf = [0u8; 64 * 1024];
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|_| "压缩文件已损坏".to_string())?;
        let mut entry: u64 = 0;
        loop {
            let n = f.read(&mut buf).map_err(|_| "压缩文件已损坏".to_string())?;
            if n == 0 {
                break;
            }
            entry += n as u64;
            total += n as u64;
            if entry > l.max_entry_bytes {
                return Err(format!(
                    "压缩文件内的单个文件过大（解压后超过{}MB）",
                    l.max_entry_bytes / 1024 / 1024
                ));
            }
            if total > total_cap {
                return Err("压缩文件解压后过大（超出大小上限或压缩比异常），已拒绝".to_string());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    #[test]
    fn bombs_are_refused_and_real_files_pass() {
        let small = Limits {
            max_entries: 3,
            max_entry_bytes: 1_000_000,
            max_total_bytes: 1_500_000,
            max_ratio: 200,
        };
        // a real-looking file
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("<c r=\"A{i}\">{i}</c>").into_bytes())
            .collect();
        assert!(check(&zip_of(&[("a.xml", text.clone())]), small).is_ok());
        // one entry just over its limit, and at it
        assert!(check(
            &zip_of(&[("a", vec![b'x'; 1_000_001])]),
            Limits {
                max_ratio: 100_000,
                ..small
            }
        )
        .is_err());
        assert!(check(
            &zip_of(&[("a", vec![b'x'; 1_000_000])]),
            Limits {
                max_ratio: 100_000,
                ..small
            }
        )
        .is_ok());
        // a highly compressible entry (a bomb's shape): refused by the ratio
        let bomb = zip_of(&[("sheet1.xml", vec![b'A'; 900_000])]);
        assert!(bomb.len() < 4_000);
        assert!(check(&bomb, small).expect_err("a bomb").contains("压缩比"));
        // too many entries; the total across entries
        let four: Vec<(&str, Vec<u8>)> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| (*n, vec![1u8]))
            .collect();
        assert!(check(&zip_of(&four), small).is_err());
        let two = zip_of(&[("a", text.clone()), ("b", text.clone()), ("c", text)]);
        assert!(check(
            &two,
            Limits {
                max_total_bytes: 500_000,
                ..small
            }
        )
        .is_err());
        // not a zip
        assert!(check(b"not a zip at all", small).is_err());
    }
}
