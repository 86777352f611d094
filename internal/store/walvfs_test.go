package store

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"
)

// The write-ahead log of the encrypted database is written through walGatherVFS (walvfs.go).
// These tests write transactions of every shape through it (small, larger than the writer's
// page cache so that SQLite spills frames before the commit, rolled back after a spill) while
// other connections, in this process and in another one, read; and kill a writing process
// with SIGKILL. A reader must never see a committed transaction whose frames are not in the
// file, and a transaction whose commit returned must survive the kill.

const (
	gatherRows    = 40 // rows per batch; each has a 300-byte pad
	gatherChild   = "PRIVOX_TEST_GATHER_CHILD"
	gatherPathEnv = "PRIVOX_TEST_GATHER_PATH"
	gatherKeyEnv  = "PRIVOX_TEST_GATHER_KEY"
)

func gatherKey(t *testing.T) []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func gatherSchema(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS g (batch INTEGER NOT NULL, i INTEGER NOT NULL, pad TEXT NOT NULL, PRIMARY KEY (batch, i));
		CREATE INDEX IF NOT EXISTS g_pad ON g (pad);
		CREATE TABLE IF NOT EXISTS gn (n INTEGER NOT NULL);
		INSERT INTO gn SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM gn)`)
	return err
}

// gatherBatch writes batch b in one transaction on conn: gatherRows rows (times big, so that
// the transaction outgrows a small page cache), and the counter; rollback undoes it instead.
func gatherBatch(ctx context.Context, conn *sql.Conn, b, big int, rollback bool) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := 0; i < gatherRows*big; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO g (batch, i, pad) VALUES (?, ?, printf('%0300d', ?))`, b, i, b*1000000+i); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gn SET n = ?`, b); err != nil {
		return err
	}
	if rollback {
		return tx.Rollback()
	}
	return tx.Commit()
}

// gatherCheck reads one snapshot (one statement) and checks that it holds exactly the
// batches up to the counter, each whole and intact. It returns the counter.
func gatherCheck(ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var n, rows, bad, batches int
	err := db.QueryRowContext(ctx, `SELECT (SELECT n FROM gn), count(*),
		coalesce(sum(pad != printf('%0300d', batch*1000000+i) OR batch > (SELECT n FROM gn)), 0),
		count(DISTINCT batch) FROM g`).Scan(&n, &rows, &bad, &batches)
	if err != nil {
		return 0, err
	}
	if bad != 0 || batches != n {
		return n, fmt.Errorf("snapshot at batch %d: %d batches, %d rows, %d wrong", n, batches, rows, bad)
	}
	return n, nil
}

// gatherWriter commits batches until stop is closed (or count batches are written); every
// fifth outgrows the page cache of 10 pages set on its connection, every seventh is rolled
// back after doing so. committed is called after each commit returned.
func gatherWriter(ctx context.Context, db *sql.DB, count int, stop <-chan struct{}, committed func(int)) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = 10`); err != nil {
		return err
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT n FROM gn`).Scan(&n); err != nil {
		return err
	}
	for k := 0; count == 0 || k < count; k++ {
		select {
		case <-stop:
			return nil
		default:
		}
		big := 1
		if k%5 == 4 {
			big = 8
		}
		if k%7 == 6 {
			if err := gatherBatch(ctx, conn, n+1, 8, true); err != nil {
				return fmt.Errorf("rolled back batch: %w", err)
			}
			continue
		}
		if err := gatherBatch(ctx, conn, n+1, big, false); err != nil {
			return fmt.Errorf("batch %d: %w", n+1, err)
		}
		n++
		if committed != nil {
			committed(n)
		}
	}
	return nil
}

// TestWALGatherConcurrentReaders: while one connection commits through the gathering VFS,
// the other connections of the pool, a second pool on the same file and another process read
// snapshots; every snapshot holds whole batches only, and the database is intact after.
func TestWALGatherConcurrentReaders(t *testing.T) {
	if os.Getenv(gatherChild) != "" {
		t.Skip("child")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "privox.db")
	key := gatherKey(t)
	db, err := openSQLite(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := gatherSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	second, err := openSQLite(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	// The reader in another process reads until its standard input closes.
	child := exec.Command(os.Args[0], "-test.run=^TestWALGatherChild$", "-test.count=1")
	child.Env = append(os.Environ(), gatherChild+"=read", gatherPathEnv+"="+path, gatherKeyEnv+"="+hex.EncodeToString(key))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = child.Stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var childLines []string
	childDone := make(chan struct{})
	go func() {
		defer close(childDone)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			childLines = append(childLines, sc.Text())
		}
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	reads := make([]int, 5)
	for r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := db
			if r%2 == 1 {
				pool = second
			}
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, err := gatherCheck(ctx, pool)
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if n < last {
					errs <- fmt.Errorf("reader %d: batch %d after %d", r, n, last)
					return
				}
				last = n
				reads[r]++
			}
		}()
	}
	// A checkpointer on its own connection, as the pool's other connections do.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			if _, err := second.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
				errs <- fmt.Errorf("checkpoint: %w", err)
				return
			}
		}
	}()
	werr := gatherWriter(ctx, db, 300, nil, nil)
	close(stop)
	wg.Wait()
	stdin.Close()
	<-childDone
	cerr := child.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if werr != nil {
		t.Fatal(werr)
	}
	if cerr != nil || !strings.HasPrefix(strings.Join(childLines, "\n"), "reads ") {
		t.Fatalf("reader process: %v\n%s", cerr, strings.Join(childLines, "\n"))
	}
	t.Logf("snapshots read: %v in this process, %s in the other", reads, strings.Join(childLines, " "))
	n, err := gatherCheck(ctx, db)
	if err != nil || n != 300-300/7 {
		t.Fatalf("after: batch %d, %v", n, err)
	}
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// TestWALGatherChild is the body of the child processes: a reader (for
// TestWALGatherConcurrentReaders) or a writer (for TestWALGatherKill9).
func TestWALGatherChild(t *testing.T) {
	mode := os.Getenv(gatherChild)
	if mode == "" {
		t.Skip("runs only as the child of the gathering tests")
	}
	ctx := context.Background()
	key, _ := hex.DecodeString(os.Getenv(gatherKeyEnv))
	db, err := openSQLite(ctx, os.Getenv(gatherPathEnv), key)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	switch mode {
	case "read":
		eof := make(chan struct{})
		go func() {
			bufio.NewReader(os.Stdin).ReadString('\n')
			close(eof)
		}()
		reads := 0
		for {
			select {
			case <-eof:
				fmt.Println("reads", reads)
				os.Exit(0)
			default:
			}
			if _, err := gatherCheck(ctx, db); err != nil {
				fmt.Println("read:", err)
				os.Exit(1)
			}
			reads++
		}
	case "write":
		fmt.Println("writing")
		err := gatherWriter(ctx, db, 0, nil, func(n int) { fmt.Println("committed", n) })
		fmt.Println("write:", err)
		os.Exit(1)
	}
}

// TestWALGatherKill9 kills a process that commits through the gathering VFS with SIGKILL at
// random moments, while this process keeps the database open and reads it. After every kill
// the database is intact, holds whole batches only, and every batch whose commit had
// returned in the killed process.
func TestWALGatherKill9(t *testing.T) {
	if os.Getenv(gatherChild) != "" {
		t.Skip("child")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "privox.db")
	key := gatherKey(t)
	db, err := openSQLite(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := gatherSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	const rounds = 12
	for round := 0; round < rounds; round++ {
		last := round == rounds-1
		if last {
			// The last writer runs alone: after its kill the next open recovers the
			// wal-index from the log on disk, not from another connection's shared memory.
			db.Close()
		}
		child := exec.Command(os.Args[0], "-test.run=^TestWALGatherChild$", "-test.count=1")
		child.Env = append(os.Environ(), gatherChild+"=write", gatherPathEnv+"="+path, gatherKeyEnv+"="+hex.EncodeToString(key))
		out, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		child.Stderr = child.Stdout
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var lines []string
		committed := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				mu.Lock()
				lines = append(lines, sc.Text())
				if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
					committed, _ = strconv.Atoi(n)
				}
				mu.Unlock()
			}
		}()
		// Once it commits, read beside it for a while, then kill it in the middle of
		// whatever it does.
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			c := committed
			mu.Unlock()
			if c > 0 {
				break
			}
			if time.Since(start) > time.Minute {
				child.Process.Kill()
				t.Fatalf("round %d: the writer commits nothing", round)
			}
		}
		deadline := time.Now().Add(time.Duration(round*37%200) * time.Millisecond)
		for time.Now().Before(deadline) {
			if last {
				time.Sleep(time.Millisecond)
				continue
			}
			if _, err := gatherCheck(ctx, db); err != nil {
				child.Process.Kill()
				t.Fatalf("round %d, reading beside the writer: %v", round, err)
			}
		}
		child.Process.Signal(syscall.SIGKILL)
		<-done
		err = child.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(ee.String(), "killed") {
			t.Fatalf("round %d: writer was not killed: %v\n%s", round, err, strings.Join(lines, "\n"))
		}
		if last {
			if db, err = openSQLite(ctx, path, key); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
		}
		n, err := gatherCheck(ctx, db)
		if err != nil {
			t.Fatalf("round %d, after the kill: %v", round, err)
		}
		if n < committed {
			t.Fatalf("round %d: batch %d committed in the killed process, %d in the database", round, committed, n)
		}
		t.Logf("round %d: killed after batch %d committed, %d in the database", round, committed, n)
	}
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// walOp is one call that reached the file under the gathering layer.
type walOp struct {
	op  string
	off int64
	n   int
}

type recordingFile struct {
	File vfs.File // nil: only the methods below are called
	ops  []walOp
	data map[int64][]byte
}

func (r *recordingFile) Close() error { return nil }
func (r *recordingFile) ReadAt(p []byte, off int64) (int, error) {
	r.ops = append(r.ops, walOp{"read", off, len(p)})
	return len(p), nil
}
func (r *recordingFile) WriteAt(p []byte, off int64) (int, error) {
	r.ops = append(r.ops, walOp{"write", off, len(p)})
	r.data[off] = append([]byte(nil), p...)
	return len(p), nil
}
func (r *recordingFile) Truncate(size int64) error {
	r.ops = append(r.ops, walOp{"truncate", size, 0})
	return nil
}
func (r *recordingFile) Sync(vfs.SyncFlag) error {
	r.ops = append(r.ops, walOp{"sync", 0, 0})
	return nil
}
func (r *recordingFile) Size() (int64, error)                            { return 0, nil }
func (r *recordingFile) Lock(vfs.LockLevel) error                        { return nil }
func (r *recordingFile) Unlock(vfs.LockLevel) error                      { return nil }
func (r *recordingFile) CheckReservedLock() (bool, error)                { return false, nil }
func (r *recordingFile) SectorSize() int                                 { return 4096 }
func (r *recordingFile) DeviceCharacteristics() vfs.DeviceCharacteristic { return 0 }

// frameHeader is a frame header as SQLite writes it; commit is the database size of a
// commit frame (0: not a commit frame).
func frameHeader(pgno, commit uint32) []byte {
	h := make([]byte, walFrameHeaderSize)
	binary.BigEndian.PutUint32(h[0:], pgno)
	binary.BigEndian.PutUint32(h[4:], commit)
	return h
}

func frameOff(n int) int64 { return 32 + int64(n-1)*(4096+walFrameHeaderSize) }

// TestWALGatherRules feeds the gathering layer the writes of sqlite3WalFrames and checks what
// reaches the file below, and when (walvfs.go, rules 1 to 3).
func TestWALGatherRules(t *testing.T) {
	page := make([]byte, 4096)
	newWAL := func() (*gatherDBFile, *gatherWALFile, *recordingFile) {
		rec := &recordingFile{data: map[int64][]byte{}}
		db := &gatherDBFile{File: rec}
		w := &gatherWALFile{File: rec, db: db}
		db.wal = w
		return db, w, rec
	}
	writeFrame := func(t *testing.T, w *gatherWALFile, n int, commit uint32) {
		t.Helper()
		if _, err := w.WriteAt(frameHeader(uint32(n), commit), frameOff(n)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt(page, frameOff(n)+walFrameHeaderSize); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, rec *recordingFile, want ...walOp) {
		t.Helper()
		if fmt.Sprint(rec.ops) != fmt.Sprint(want) {
			t.Fatalf("reached the file:\n%v\nwant\n%v", rec.ops, want)
		}
	}
	frames := func(from, to int) walOp {
		return walOp{"write", frameOff(from), (to - from + 1) * (4096 + walFrameHeaderSize)}
	}

	t.Run("a commit is one write, when its last frame is written", func(t *testing.T) {
		_, w, rec := newWAL()
		for n := 1; n < 5; n++ {
			writeFrame(t, w, n, 0)
		}
		check(t, rec)
		writeFrame(t, w, 5, 9)
		check(t, rec, frames(1, 5))
		if b := rec.data[frameOff(1)]; binary.BigEndian.Uint32(b[4*(4096+24)+4:]) != 9 {
			t.Fatal("the commit frame was not written as given")
		}
	})
	t.Run("after a commit, writes go straight through until a shared-memory call", func(t *testing.T) {
		db, w, rec := newWAL()
		writeFrame(t, w, 1, 0)
		writeFrame(t, w, 2, 3)
		// walRewriteChecksums after a spill: read a frame, rewrite its header.
		w.ReadAt(make([]byte, 4096+24), frameOff(1))
		w.WriteAt(frameHeader(1, 0), frameOff(1))
		w.WriteAt(frameHeader(2, 3), frameOff(2))
		check(t, rec, frames(1, 2), walOp{"read", frameOff(1), 4096 + 24},
			walOp{"write", frameOff(1), 24}, walOp{"write", frameOff(2), 24})
		db.SharedMemory() // the next transaction takes the write lock
		rec.ops = nil
		writeFrame(t, w, 3, 0)
		check(t, rec)
	})
	t.Run("a spilled frame is written before the next shared-memory call", func(t *testing.T) {
		db, w, rec := newWAL()
		writeFrame(t, w, 1, 0) // a spill: one frame, no commit mark
		check(t, rec)
		db.SharedMemory() // xShmBarrier, xShmLock (the write lock released after a rollback) …
		check(t, rec, frames(1, 1))
	})
	t.Run("every other operation on the log comes after the gathered writes", func(t *testing.T) {
		for _, op := range []struct {
			name string
			do   func(w *gatherWALFile)
			want walOp
		}{
			{"read", func(w *gatherWALFile) { w.ReadAt(make([]byte, 8), 0) }, walOp{"read", 0, 8}},
			{"sync", func(w *gatherWALFile) { w.Sync(vfs.SYNC_NORMAL) }, walOp{"sync", 0, 0}},
			{"truncate", func(w *gatherWALFile) { w.Truncate(0) }, walOp{"truncate", 0, 0}},
			{"write elsewhere", func(w *gatherWALFile) { w.WriteAt(page, frameOff(1)+24) }, walOp{"write", frameOff(1) + 24, 4096}},
		} {
			t.Run(op.name, func(t *testing.T) {
				_, w, rec := newWAL()
				writeFrame(t, w, 1, 0)
				writeFrame(t, w, 2, 0)
				op.do(w)
				if op.name == "write elsewhere" {
					w.Sync(vfs.SYNC_NORMAL)
					check(t, rec, frames(1, 2), op.want, walOp{"sync", 0, 0})
					return
				}
				check(t, rec, frames(1, 2), op.want)
			})
		}
	})
	t.Run("the log header and the first frames after a restart are one write", func(t *testing.T) {
		_, w, rec := newWAL()
		w.WriteAt(make([]byte, 32), 0)
		writeFrame(t, w, 1, 2)
		check(t, rec, walOp{"write", 0, 32 + 4096 + 24})
	})
	t.Run("a large transaction is written in runs of at most walGatherMax", func(t *testing.T) {
		_, w, rec := newWAL()
		n := 1
		for ; n < 2*walGatherMax/(4096+24)+3; n++ {
			writeFrame(t, w, n, 0)
		}
		writeFrame(t, w, n, uint32(n))
		var total int
		for _, op := range rec.ops {
			if op.n > walGatherMax {
				t.Fatalf("a write of %d bytes", op.n)
			}
			total += op.n
		}
		if len(rec.ops) != 3 || total != n*(4096+24) {
			t.Fatalf("%d writes, %d bytes: %v", len(rec.ops), total, rec.ops)
		}
	})
	t.Run("a flush that fails at a shared-memory call fails the next operation", func(t *testing.T) {
		rec := &failingFile{recordingFile{data: map[int64][]byte{}}}
		db := &gatherDBFile{File: rec}
		w := &gatherWALFile{File: rec, db: db}
		db.wal = w
		writeFrame(t, w, 1, 0)
		db.SharedMemory()
		if _, err := w.WriteAt(frameHeader(2, 2), frameOff(2)); err == nil {
			t.Fatal("the write after a failed flush succeeded")
		}
	})
}

type failingFile struct{ recordingFile }

func (f *failingFile) WriteAt(p []byte, off int64) (int, error) {
	return 0, errors.New("disk full")
}
