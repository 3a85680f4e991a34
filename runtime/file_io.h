// Opening inputs and replacing outputs, the same way everywhere: only
// regular files are read (a FIFO, device or directory is refused without
// blocking), and an output is written beside its path and renamed over it
// only when complete, never over something that is not a regular file.
#pragma once
#include <cstddef>
#include <cstdio>
#include <string>

namespace axe {

// A descriptor of the regular file at `path`, opened read-only without
// blocking on FIFOs; AXE_ERR_IO naming the path otherwise. The caller closes it.
int open_regular_file(const std::string& path, size_t* size);

// Up to `n` bytes from the start of the regular file at `path`.
std::string read_file_head(const std::string& path, size_t n);
// The whole regular file at `path`; AXE_ERR_FORMAT naming it when it holds
// more than `max_bytes` (a small settings file that is not small is damaged).
std::string read_small_file(const std::string& path, size_t max_bytes);

// Fails with AXE_ERR_IO when `path` exists and is not a regular file (a
// device, FIFO, directory or symbolic link is never replaced), or when its
// folder does not exist; the message names `path`.
void check_output_path(const std::string& path);

// check_output_path, then a new temporary file beside `path` for writing
// (created exclusively: never through a link or over an existing file); its
// name in *tmp. The caller renames it over `path` when complete.
std::FILE* create_temporary_beside(const std::string& path, std::string* tmp);
// A scratch file beside `path` (on its file system: /tmp may be memory),
// created exclusively and unlinked at once, so that nothing of it remains
// whatever happens; its descriptor, for pread/pwrite, which the caller
// closes.
int create_scratch_beside(const std::string& path);
// Flushes, syncs and closes f (the temporary file `tmp`), then renames it
// over `path` when that and every write before it (`ok`) succeeded;
// otherwise removes it and fails with AXE_ERR_IO naming `path`.
void commit_temporary(std::FILE* f, const std::string& tmp, const std::string& path, bool ok);

}  // namespace axe
