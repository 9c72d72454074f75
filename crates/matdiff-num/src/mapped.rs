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
