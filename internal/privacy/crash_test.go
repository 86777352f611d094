//go:build unix

package privacy_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// The crash test runs the sweep in a child process (this test binary, re-executed) and kills
// it with SIGKILL, either at a chosen step of the sweep (the engine's hook) or after a random
// delay, many times over. After every kill it checks that the protocol never produced a row
// pointing at a missing file or a file without a row, runs the recovery Privox runs at start,
// and checks that everything is consistent and nothing that should stay was lost.
const (
	crashChild  = "PRIVOX_CRASH_CHILD"
	crashEngine = "PRIVOX_CRASH_ENGINE"
	crashDSN    = "PRIVOX_CRASH_DSN"
	crashData   = "PRIVOX_CRASH_DATA"
	crashAt     = "PRIVOX_CRASH_AT"
	crashKey    = "PRIVOX_CRASH_KEY" // hex; set for SQLite encrypted at rest
)

// openCrashDB opens the database of the crash test as the engine runs it: SQLite encrypted
// with key when key is set.
func openCrashDB(ctx context.Context, engine store.Engine, dsn string, key []byte) (*store.DB, error) {
	if engine == store.SQLite && key != nil {
		return store.OpenSQLite(ctx, dsn, key)
	}
	return store.Open(ctx, engine, dsn)
}

// TestCrashChild is the child's body; it does nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChild) != "1" {
		t.Skip("runs only as the child of TestSweepSurvivesKill9")
	}
	ctx := context.Background()
	key, _ := hex.DecodeString(os.Getenv(crashKey))
	if len(key) == 0 {
		key = nil
	}
	db, err := openCrashDB(ctx, store.Engine(os.Getenv(crashEngine)), os.Getenv(crashDSN), key)
	if err != nil {
		t.Fatal(err)
	}
	data := os.Getenv(crashData)
	vault, err := keys.Open(keys.DefaultDir(data))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filestore.New(filepath.Join(data, "files"), db, vault)
	if err != nil {
		t.Fatal(err)
	}
	at, _ := strconv.Atoi(os.Getenv(crashAt))
	steps := 0
	eng := privacy.New(privacy.Deps{DB: db, Files: files, Vault: vault}, privacy.Options{BatchSize: 5, FileBatchSize: 3, Hook: func(string) {
		steps++
		if steps == at {
			syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
			select {}
		}
	}})
	fmt.Println("sweeping")
	if _, err := eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("done")
}

func TestSweepSurvivesKill9(t *testing.T) {
	if os.Getenv(crashChild) != "" {
		t.Skip("child")
	}
	for _, en := range storetest.Engines(t) {
		t.Run(en.Label(), func(t *testing.T) { crashRounds(t, en, 24) })
	}
}

func crashRounds(t *testing.T, en storetest.Engine, rounds int) {
	ctx := context.Background()
	dsn := en.DSN(t)
	// The parent keeps the database open (and reads it after every kill) while each child
	// sweeps it: two processes on one write-ahead log.
	db, err := openCrashDB(ctx, en.Name, dsn, en.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newEnv(t, db, privacy.Options{})
	tn := e.tenant(t, "crash", "de")
	u := e.user(t, tn.ID, "u@crash.test")
	expiredCDRs := 0
	// Every round adds expired records, so that each child has a sweep to be killed in.
	addExpired := func(round int) {
		for i := 0; i < 10; i++ {
			e.cdr(t, tn.ID, ago(8)-int64(round*10+i)*60000, &u.ID, nil, "trunk")
			expiredCDRs++
		}
		for i := 0; i < 4; i++ {
			e.file(t, tn.ID, &u.ID, filestore.KindRecording, ago(41), []byte(fmt.Sprintf("expired recording %d/%d", round, i)))
		}
		for i := 0; i < 3; i++ {
			e.voicemail(t, tn.ID, u.ID, ago(91), []byte(fmt.Sprintf("expired voicemail %d/%d", round, i)))
		}
	}
	var keptCDRs []int64
	for i := 0; i < 10; i++ {
		keptCDRs = append(keptCDRs, e.cdr(t, tn.ID, ago(6), &u.ID, nil, "trunk").ID)
	}
	type kept struct {
		f    store.ContentFile
		data string
	}
	var keep []kept
	for i := 0; i < 6; i++ {
		d := fmt.Sprintf("kept recording %d", i)
		keep = append(keep, kept{e.file(t, tn.ID, &u.ID, filestore.KindRecording, ago(10), []byte(d)), d})
		d = fmt.Sprintf("kept voicemail %d", i)
		f, _ := e.voicemail(t, tn.ID, u.ID, ago(10), []byte(d))
		keep = append(keep, kept{f, d})
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killed := 0
	for round := 0; round < rounds; round++ {
		addExpired(round)
		at := 0
		if round%2 == 0 {
			at = 1 + rng.IntN(24) // a step of the sweep: batch committed, file removed, …
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChild+"=1", crashEngine+"="+string(en.Name), crashDSN+"="+dsn, crashData+"="+e.data, crashAt+"="+strconv.Itoa(at), crashKey+"="+hex.EncodeToString(en.Key))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() == "sweeping" {
				break
			}
		}
		if at == 0 {
			// Somewhere in the middle of whatever it is doing.
			time.Sleep(time.Duration(rng.IntN(25000)) * time.Microsecond)
			cmd.Process.Signal(syscall.SIGKILL)
		}
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if err != nil {
			t.Fatalf("round %d: child failed: %v\n%s", round, err, strings.Join(lines, "\n"))
		}
		checkProtocolInvariant(t, e, round)
		if _, err := e.files.Recover(ctx, true); err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, e, round)
	}
	if killed < rounds/2 {
		t.Fatalf("only %d of %d children were killed mid-sweep", killed, rounds)
	}
	// A sweep that runs to the end leaves exactly what should stay.
	if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, e, rounds)
	if n := count(t, db, `SELECT COUNT(*) FROM cdrs`); n != len(keptCDRs) {
		t.Fatalf("%d CDRs left, want %d", n, len(keptCDRs))
	}
	if n := count(t, db, `SELECT COALESCE(SUM(records), 0) FROM stats_hourly WHERE source = 'cdrs'`); n != expiredCDRs {
		t.Fatalf("aggregates count %d calls, want %d: a crash lost or doubled some", n, expiredCDRs)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM content_files`); n != len(keep) {
		t.Fatalf("%d content files left, want %d", n, len(keep))
	}
	if n := count(t, db, `SELECT COUNT(*) FROM test_voicemails`); n != len(keep)/2 {
		t.Fatalf("%d voicemail rows left, want %d", n, len(keep)/2)
	}
	for _, k := range keep {
		got, _, err := e.files.Get(ctx, tn.ID, k.f.ID)
		if err != nil || string(got) != k.data {
			t.Fatalf("kept file %d: %q %v", k.f.ID, got, err)
		}
	}
	if en.Key != nil {
		if st, err := store.SQLiteFileState(dsn); err != nil || st != store.FileOther {
			t.Fatalf("the database is not encrypted: %v %v", st, err)
		}
	}
	t.Logf("%d of %d children killed mid-sweep", killed, rounds)
}

// diskFiles lists the content files on disk by path (temp files aside).
func diskFiles(t testing.TB, e *env) map[string]bool {
	out := map[string]bool{}
	err := filepath.WalkDir(e.files.Root(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return err
		}
		out[p] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func allFiles(t testing.TB, e *env) []store.ContentFile {
	fs, err := e.db.AllContentFiles(context.Background(), store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// checkProtocolInvariant holds at every instant, crash or not: a complete (ready) file row has
// its file, no file exists without a row, and no other row refers to a file that is not ready.
func checkProtocolInvariant(t *testing.T, e *env, round int) {
	t.Helper()
	disk := diskFiles(t, e)
	for _, f := range allFiles(t, e) {
		p := e.files.Path(f)
		if f.State == store.FileReady && !disk[p] {
			t.Fatalf("round %d: ready row %d points at a missing file", round, f.ID)
		}
		delete(disk, p)
	}
	for p := range disk {
		t.Fatalf("round %d: file %s has no row", round, p)
	}
	if n := count(t, e.db, `SELECT COUNT(*) FROM test_voicemails v WHERE NOT EXISTS (SELECT 1 FROM content_files f WHERE f.id = v.file_id AND f.state = 'ready')`); n != 0 {
		t.Fatalf("round %d: %d voicemail rows point at a file that is not ready", round, n)
	}
}

// checkConsistent holds after recovery: only ready rows, each with its file, and nothing else.
func checkConsistent(t *testing.T, e *env, round int) {
	t.Helper()
	checkProtocolInvariant(t, e, round)
	for _, f := range allFiles(t, e) {
		if f.State != store.FileReady {
			t.Fatalf("round %d: row %d still %s after recovery", round, f.ID, f.State)
		}
	}
	if n := len(diskFiles(t, e)); n != len(allFiles(t, e)) {
		t.Fatalf("round %d: %d files for %d rows", round, n, len(allFiles(t, e)))
	}
}
