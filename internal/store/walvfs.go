package store

import (
	"encoding/binary"

	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"
)

// sqliteVFS is the VFS the encrypted embedded database is opened with: the Adiantum VFS of
// ncruces/go-sqlite3 with the appends to its write-ahead log gathered into one write per
// transaction. The files are the Adiantum VFS's, byte for byte: a database written through
// one opens through the other.
const sqliteVFS = "privox-adiantum"

func init() {
	vfs.Register(sqliteVFS, &walGatherVFS{VFS: adiantum.Wrap(vfs.Find(""), nil)})
}

// Why gather: SQLite writes a frame of the write-ahead log as two writes, its 24-byte header
// and the 4,096-byte page, at 32 + n × 4,120. Neither lines up with the cipher's 4 KiB blocks,
// so the Adiantum VFS reads, decrypts, changes, encrypts and writes three partial blocks for
// every frame. The frames of one transaction are contiguous: written as one, only the first
// and the last block of the run are partial.
//
// When the gathered frames reach the Adiantum file. Other connections, in this process and
// in others (privox db backup beside the server), read a frame as soon as the wal-index in
// shared memory says it is committed, and with synchronous=NORMAL SQLite does not sync the
// log at commit. So no frame may wait here once SQLite can publish it. In SQLite's
// sqlite3WalFrames (wal.c) the frames of a commit are written in order, the last one carrying
// the commit mark (its header's database size is not zero); after it come, in that order, the
// rewrite of frame checksums (only after a spill), the sync (synchronous=FULL), the log's
// truncation (journal_size_limit), the wal-index hash entries and walIndexWriteHdr, which
// writes the second copy of the index header, calls xShmBarrier and only then writes the
// first copy, the one readers take. Gathered writes go to the Adiantum file:
//
//  1. when the page of a commit frame has been written: the error, if any, is the error of
//     that write, so the commit fails before anything is published; every write that
//     follows, up to the next shared-memory call, goes straight through;
//  2. before any shared-memory call of the connection (xShmMap, xShmLock, xShmBarrier,
//     xShmUnmap: ncruces asks the database file for its shared memory at each of them),
//     which covers the barrier before the header is published and the release of the write
//     lock after a rollback; a frame written while a large transaction spills its cache
//     (one frame, no commit mark) waits at most until then;
//  3. before any other operation on the log (read, truncate, sync, size, close) and before a
//     write that does not continue the gathered run, so the Adiantum file sees the same
//     writes in the same order, only fewer and larger.
//
// The log is only written under the wal-index write lock, and the lock is released with a
// shared-memory call (2), so nothing waits here while another connection may write the log.
// Killed before a flush, the process loses frames of a transaction that was never published:
// the log on disk ends, as SQLite expects, with the last committed transaction.

// walGatherMax bounds the bytes gathered: a larger transaction is written in runs this long.
const walGatherMax = 1 << 20

type walGatherVFS struct{ vfs.VFS }

func (v *walGatherVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	return vfsutil.WrapOpen(v.VFS, name, flags)
}

func (v *walGatherVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := vfsutil.WrapOpenFilename(v.VFS, name, flags)
	if err != nil {
		return f, flags, err
	}
	switch {
	case flags&vfs.OPEN_MAIN_DB != 0:
		return &gatherDBFile{File: f}, flags, nil
	case flags&vfs.OPEN_WAL != 0:
		db, ok := vfsutil.UnwrapFile[*gatherDBFile](name.DatabaseFile())
		if !ok {
			return f, flags, nil // not ours to hook: written through
		}
		w := &gatherWALFile{File: f, db: db}
		db.wal = w
		return w, flags, nil
	}
	return f, flags, nil
}

// gatherDBFile is a main database file; it flushes its connection's log before every
// shared-memory call.
type gatherDBFile struct {
	vfs.File
	wal *gatherWALFile
}

// SharedMemory is what ncruces asks for before each xShmMap, xShmLock, xShmBarrier and
// xShmUnmap of this connection (vfs/vfs.go): the log is flushed first (rule 2).
func (f *gatherDBFile) SharedMemory() vfs.SharedMemory {
	if w := f.wal; w != nil {
		w.direct = false
		if err := w.flush(); err != nil {
			// No error can be returned from here: the next operation on the log fails
			// with it, so that the transaction that wrote the frames is not committed.
			w.err = err
		}
	}
	return vfsutil.WrapSharedMemory(f.File)
}

func (f *gatherDBFile) Unwrap() vfs.File { return f.File }

// The optional interfaces of the Adiantum file, forwarded.

func (f *gatherDBFile) Pragma(name, value string) (string, error) {
	return vfsutil.WrapPragma(f.File, name, value)
}
func (f *gatherDBFile) ChunkSize(size int)           { vfsutil.WrapChunkSize(f.File, size) }
func (f *gatherDBFile) SizeHint(size int64) error    { return vfsutil.WrapSizeHint(f.File, size) }
func (f *gatherDBFile) LockState() vfs.LockLevel     { return vfsutil.WrapLockState(f.File) }
func (f *gatherDBFile) HasMoved() (bool, error)      { return vfsutil.WrapHasMoved(f.File) }
func (f *gatherDBFile) Overwrite() error             { return vfsutil.WrapOverwrite(f.File) }
func (f *gatherDBFile) SyncSuper(super string) error { return vfsutil.WrapSyncSuper(f.File, super) }
func (f *gatherDBFile) CommitPhaseTwo() error        { return vfsutil.WrapCommitPhaseTwo(f.File) }
func (f *gatherDBFile) BeginAtomicWrite() error      { return vfsutil.WrapBeginAtomicWrite(f.File) }
func (f *gatherDBFile) CommitAtomicWrite() error     { return vfsutil.WrapCommitAtomicWrite(f.File) }
func (f *gatherDBFile) RollbackAtomicWrite() error   { return vfsutil.WrapRollbackAtomicWrite(f.File) }
func (f *gatherDBFile) CheckpointStart()             { vfsutil.WrapCheckpointStart(f.File) }
func (f *gatherDBFile) CheckpointDone()              { vfsutil.WrapCheckpointDone(f.File) }
func (f *gatherDBFile) BusyHandler(h func() bool)    { vfsutil.WrapBusyHandler(f.File, h) }

// gatherWALFile is a write-ahead log; contiguous writes are gathered in buf, which starts
// at off in the file. A connection runs one call at a time (SQLite is built single-threaded
// in ncruces; database/sql hands a connection to one goroutine at a time): no lock is needed.
type gatherWALFile struct {
	vfs.File
	db  *gatherDBFile
	off int64
	buf []byte
	// commitAt is where the page of a commit frame starts, after its header was gathered
	// (0: none pending); direct is set after a commit, until the next shared-memory call.
	commitAt int64
	direct   bool
	err      error // a failed flush from SharedMemory, returned by the next operation
}

const walFrameHeaderSize = 24

func (w *gatherWALFile) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.File.WriteAt(w.buf, w.off)
	w.buf = w.buf[:0]
	w.commitAt = 0
	return err
}

// pending returns the error of a flush that failed where it could not be returned, once.
func (w *gatherWALFile) pending() error {
	err := w.err
	w.err = nil
	return err
}

func (w *gatherWALFile) WriteAt(p []byte, off int64) (int, error) {
	if err := w.pending(); err != nil {
		return 0, err
	}
	if len(w.buf) > 0 && (off != w.off+int64(len(w.buf)) || len(w.buf)+len(p) > walGatherMax) {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	if w.direct {
		return w.File.WriteAt(p, off)
	}
	if len(w.buf) == 0 {
		w.off = off
	}
	w.buf = append(w.buf, p...)
	switch {
	case len(p) == walFrameHeaderSize && binary.BigEndian.Uint32(p[4:8]) != 0:
		// A frame header with a commit mark: its page is the next write.
		w.commitAt = off + walFrameHeaderSize
	case w.commitAt != 0 && off == w.commitAt:
		w.direct = true
		if err := w.flush(); err != nil {
			return 0, err
		}
	default:
		w.commitAt = 0
	}
	return len(p), nil
}

func (w *gatherWALFile) ReadAt(p []byte, off int64) (int, error) {
	if err := w.pending(); err != nil {
		return 0, err
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.File.ReadAt(p, off)
}

func (w *gatherWALFile) Truncate(size int64) error {
	if err := w.pending(); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Truncate(size)
}

func (w *gatherWALFile) Sync(flags vfs.SyncFlag) error {
	if err := w.pending(); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Sync(flags)
}

func (w *gatherWALFile) Size() (int64, error) {
	if err := w.pending(); err != nil {
		return 0, err
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.File.Size()
}

func (w *gatherWALFile) Close() error {
	err := w.flush()
	if w.db.wal == w {
		w.db.wal = nil
	}
	if cerr := w.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *gatherWALFile) Unwrap() vfs.File { return w.File }

func (w *gatherWALFile) ChunkSize(size int) { vfsutil.WrapChunkSize(w.File, size) }
func (w *gatherWALFile) SizeHint(size int64) error {
	if err := w.flush(); err != nil {
		return err
	}
	return vfsutil.WrapSizeHint(w.File, size)
}
