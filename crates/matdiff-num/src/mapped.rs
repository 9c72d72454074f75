//! Files mapped into memory and read in place: the one use of `unsafe` in the
//! project.
//!
//! A mapped file's pages are the operating system's page cache itself: reading a
//! file that is cached costs no copy, and its pages count once, however many views
//! of it the program holds.

use std::fs::File;

/// A file mapped read-only into memory.
pub(crate) struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps `file` (a regular file) read-only, faulting in its pages up front: one
    /// system call instead of one page fault per page when the values are first read.
    pub(crate) fn open(file: &File) -> std::io::Result<MappedFile> {
        // SAFETY: the mapping is read-only and private to this process, and no
        // reference into it outlives `MappedFile`. What the type system cannot see is
        // another program changing the file while it is mapped: values written then
        // may be read (as with NumPy's `mmap_mode`), and a file truncated then ends
        // the process with SIGBUS when the lost pages are read. The documentation of
        // the data files asks not to rewrite a file while a run reads it.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().populate().map(file)? };
        Ok(MappedFile { map })
    }

    /// Maps `file` read-only for one pass from start to end (a CSV file being parsed):
    /// its pages are faulted in as they are read, and [`MappedFile::release`] lets go
    /// of those already parsed, so that the text and the values parsed from it are not
    /// held in memory side by side.
    pub(crate) fn open_once(file: &File) -> std::io::Result<MappedFile> {
        // SAFETY: as for `open`.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        Ok(MappedFile { map })
    }

    /// Takes the whole pages of `part` (a slice of this file's bytes) out of the
    /// process's memory; the page cache keeps them. Does nothing for bytes outside
    /// the map.
    pub(crate) fn release(&self, part: &[u8]) {
        const PAGE: usize = 4096;
        let base = self.map.as_ptr() as usize;
        let start = part.as_ptr() as usize;
        let Some(offset) = start.checked_sub(base) else {
            return;
        };
        let end = offset + part.len();
        if end > self.map.len() {
            return;
        }
        // Whole pages only: a page shared with a neighbouring part stays.
        let (first, last) = (offset.div_ceil(PAGE) * PAGE, end / PAGE * PAGE);
        if first < last {
            // SAFETY: the map is a read-only mapping of a file. Dropping its pages
            // changes no byte of it: a later read of them faults them in again from
            // the file (the page cache), with the same contents. Advice is only a
            // hint, so its failure is ignored.
            #[allow(unsafe_code)]
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    first,
                    last - first,
                )
            };
        }
    }

    /// Maps the `len` bytes of `file` from byte `offset` read-only, faulting in only
    /// those pages: the part of a file one process of a distributed run reads.
    pub(crate) fn open_range(file: &File, offset: u64, len: usize) -> std::io::Result<MappedFile> {
        // SAFETY: as for `open`; memmap2 aligns the offset down to a page and hands
        // back the bytes from `offset` exactly.
        #[allow(unsafe_code)]
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(len)
                .populate()
                .map(file)?
        };
        Ok(MappedFile { map })
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let dir = std::env::temp_dir().join(format!("matdiff-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bytes");
        let bytes: Vec<u8> = (0..5 * 4096 + 123).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let map = MappedFile::open_once(&file).unwrap();
        assert_eq!(map.bytes(), &bytes[..]);
        // Parts that cover whole pages, parts within a page, and a slice of another
        // buffer (ignored).
        map.release(&map.bytes()[100..3 * 4096 + 5]);
        map.release(&map.bytes()[4096 + 1..4096 + 10]);
        map.release(map.bytes());
        map.release(&bytes[..]);
        assert_eq!(map.bytes(), &bytes[..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
