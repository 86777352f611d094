package privacy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// The benchmarks default to sizes that run in seconds (CI runs them with -benchtime=1x);
// bench/sweep.sh and bench/export.sh set the sizes of the issue through these variables.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// fillCDRs inserts n CDRs of a tenant, one a second backwards from start, in large
// INSERT … SELECT statements (a recursive counter on SQLite, generate_series on PostgreSQL).
func fillCDRs(b testing.TB, db *store.DB, tid int64, uid *int64, n int, start int64, journal bool) {
	ctx := context.Background()
	const chunk = 500_000
	var user any
	if uid != nil {
		user = *uid
	}
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) `
		from := ` FROM s`
		if db.Engine() == store.Postgres {
			series, from = ``, ` FROM generate_series(1, CAST(? AS BIGINT)) AS s(i)`
		}
		cols := `tenant_id, call_id, caller, callee, caller_user_id, direction, trunk, start_at, answer_at, end_at, duration_ms, cause`
		sel := `SELECT CAST(? AS BIGINT), 'bench-' || CAST(i + ? AS TEXT), '+4930' || CAST(1000000 + i AS TEXT), '+4989' || CAST(2000000 + i AS TEXT), CAST(? AS BIGINT),
			CASE WHEN i % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'trunk-' || CAST(i % 3 AS TEXT),
			? - (i + ?) * 1000, ? - (i + ?) * 1000 + 2000, ? - (i + ?) * 1000 + 62000, 60000, 200` + from
		q := series + `INSERT INTO cdrs (` + cols + `) ` + sel
		args := []any{tid, done, user, start, done, start, done, start, done}
		if db.Engine() == store.Postgres {
			q = `INSERT INTO cdrs (` + cols + `) ` + sel
			args = append(args, k)
		} else {
			args = append([]any{k}, args...)
		}
		if _, err := db.Exec(ctx, q, args...); err != nil {
			b.Fatalf("fill cdrs: %v", err)
		}
		if journal {
			jq := series + `INSERT INTO call_journal (tenant_id, user_id, call_id, direction, peer_number, start_at, answered, duration_ms, cause)
				SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), 'bench-' || CAST(i + ? AS TEXT), 'out', '+4989' || CAST(2000000 + i AS TEXT), ? - (i + ?) * 1000, TRUE, 60000, 200` + from
			jargs := []any{tid, user, done, start, done}
			if db.Engine() == store.Postgres {
				jq = `INSERT INTO call_journal (tenant_id, user_id, call_id, direction, peer_number, start_at, answered, duration_ms, cause)
				SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), 'bench-' || CAST(i + ? AS TEXT), 'out', '+4989' || CAST(2000000 + i AS TEXT), ? - (i + ?) * 1000, TRUE, 60000, 200` + from
				jargs = append(jargs, k)
			} else {
				jargs = append([]any{k}, jargs...)
			}
			if _, err := db.Exec(ctx, jq, jargs...); err != nil {
				b.Fatalf("fill journal: %v", err)
			}
		}
	}
}

// fillExpiredFiles makes n complete content files with rows, written without the per-file
// fsync of filestore.Put so that setting up 100,000 files takes seconds. The sweeper only
// removes them; it never reads them.
func fillExpiredFiles(b testing.TB, e *env, tid, uid int64, n int, created int64) {
	ctx := context.Background()
	q := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
		INSERT INTO content_files (tenant_id, user_id, kind, state, size, created_at) SELECT ?, ?, ?, 'ready', 1024, ? FROM s`
	args := []any{n, tid, uid, filestore.KindRecording, created}
	if e.db.Engine() == store.Postgres {
		q = `INSERT INTO content_files (tenant_id, user_id, kind, state, size, created_at) SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), 'ready', 1024, CAST(? AS BIGINT)
			FROM generate_series(1, CAST(? AS BIGINT))`
		args = []any{tid, uid, filestore.KindRecording, created, n}
	}
	if _, err := e.db.Exec(ctx, q, args...); err != nil {
		b.Fatalf("fill content files: %v", err)
	}
	blob := make([]byte, 1024)
	dirDone := false
	for p := (store.Page{Limit: 1000}); ; {
		fs, err := e.db.ContentFilesInState(ctx, store.FileReady, p)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range fs {
			path := e.files.Path(f)
			if !dirDone {
				os.MkdirAll(filepath.Dir(path), 0o700)
				dirDone = true
			}
			if err := os.WriteFile(path, blob, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		if len(fs) < p.Limit {
			return
		}
		p.After = fs[len(fs)-1].ID
	}
}

// probe writes a call (CDR and journal entry, what every call leaves) in a loop and records
// how long each write takes, as a stand-in for call set-up latency while the sweeper runs.
func probe(ctx context.Context, db *store.DB, tid, uid int64) []time.Duration {
	var lat []time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		t0 := time.Now()
		_, err := db.RecordCall(context.Background(), store.CDR{TenantID: tid, CallID: fmt.Sprintf("probe-%d", i), Caller: "1001", Callee: "1002", CallerUserID: &uid,
			Direction: "internal", StartAt: store.Now(), EndAt: store.Now(), Cause: 200},
			[]store.JournalEntry{{TenantID: tid, UserID: uid, CallID: fmt.Sprintf("probe-%d", i), Direction: "out", PeerNumber: "1002", StartAt: store.Now(), Cause: 200}})
		if err == nil {
			lat = append(lat, time.Since(t0))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return lat
}

func p99(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[len(l)*99/100]
}

// BenchmarkSweep sweeps PRIVOX_BENCH_CDRS expired CDRs (anonymise: aggregated, then deleted)
// and PRIVOX_BENCH_FILES expired content files, and prints RESULT lines: rows/s of the CDR
// part, files/s, and the p99 latency of call writes with and without the sweep running.
// PRIVOX_BENCH_MODE=fast sweeps without pauses between batches (the engine's default leaves
// half of the time to other writers on SQLite).
func BenchmarkSweep(b *testing.B) {
	for _, en := range storetest.Engines(b) {
		b.Run(en.Label(), func(b *testing.B) { benchSweep(b, en) })
	}
}

func benchSweep(b *testing.B, en storetest.Engine) {
	ctx := context.Background()
	nCDR, nFiles := envInt("PRIVOX_BENCH_CDRS", 20_000), envInt("PRIVOX_BENCH_FILES", 200)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.Open(b, en)
		var phase, phaseCPU atomic.Int64
		fast := os.Getenv("PRIVOX_BENCH_MODE") == "fast"
		e := newEnv(b, db, privacy.Options{BatchSize: envInt("PRIVOX_BENCH_BATCH", 0), FileBatchSize: envInt("PRIVOX_BENCH_FILE_BATCH", 0),
			Hook: func(step string) {
				if step == "file-removed" && phase.CompareAndSwap(0, time.Now().UnixNano()) {
					phaseCPU.Store(int64(processCPU()))
				}
			}})
		tn := e.tenant(b, "bench", "de")
		u := e.user(b, tn.ID, "u@bench.test")
		t0 := time.Now()
		fillCDRs(b, db, tn.ID, &u.ID, nCDR, ago(8), false)
		fillCDRs(b, db, tn.ID, &u.ID, nCDR/100, ago(1), false) // 1 % within the period
		fillExpiredFiles(b, e, tn.ID, u.ID, nFiles, ago(41))
		if db.Engine() == store.Postgres {
			db.Exec(ctx, `ANALYZE`)
		}
		b.Logf("%s: filled %d CDRs and %d files in %s", en.Label(), nCDR, nFiles, time.Since(t0).Round(time.Millisecond))

		pctx, stop := context.WithTimeout(ctx, 2*time.Second)
		idle := probe(pctx, db, tn.ID, u.ID)
		stop()

		pctx, stop = context.WithCancel(ctx)
		var during []time.Duration
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); during = probe(pctx, db, tn.ID, u.ID) }()
		b.StartTimer()
		start, startCPU := time.Now(), processCPU()
		rep, err := e.eng.Sweep(ctx, privacy.SweepOptions{Fast: fast})
		elapsed, elapsedCPU := time.Since(start), processCPU()-startCPU
		b.StopTimer()
		stop()
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		var cdrs, files int64
		for _, t := range rep.Tables {
			switch t.Table {
			case "cdrs":
				cdrs = t.Removed
			case "content_files":
				files = t.Files
			}
		}
		if cdrs != int64(nCDR) || files != int64(nFiles) {
			b.Fatalf("swept %d CDRs and %d files, want %d and %d: %+v", cdrs, files, nCDR, nFiles, rep.Tables)
		}
		mode := ""
		if fast {
			mode = "_fast"
		}
		cdrPhase, cdrCPU := elapsed, elapsedCPU
		if p := phase.Load(); p > 0 {
			cdrPhase = time.Duration(p - start.UnixNano())
			cdrCPU = time.Duration(phaseCPU.Load()) - startCPU
		}
		filePhase := elapsed - cdrPhase
		rowsPerS := float64(cdrs) / cdrPhase.Seconds()
		b.ReportMetric(rowsPerS, "rows/s")
		fmt.Printf("RESULT sweep_%s%s_cdr_rows_per_s=%.0f rows/s\n", en.Label(), mode, rowsPerS)
		// CPU time (of the whole process: the sweeper, the probe's writes, the garbage
		// collector) per CDR removed: steadier than rows/s when other work shares the cores.
		fmt.Printf("RESULT sweep_%s%s_cdr_cpu_us_per_row=%.2f us\n", en.Label(), mode, float64(cdrCPU.Nanoseconds())/1000/float64(cdrs))
		fmt.Printf("RESULT sweep_%s%s_files_per_s=%.0f files/s\n", en.Label(), mode, float64(files)/filePhase.Seconds())
		fmt.Printf("RESULT sweep_%s%s_total_rows_per_s=%.0f rows/s\n", en.Label(), mode, float64(cdrs+files)/elapsed.Seconds())
		fmt.Printf("RESULT sweep_%s%s_seconds=%.2f s\n", en.Label(), mode, elapsed.Seconds())
		fmt.Printf("RESULT sweep_%s%s_call_write_p99_idle=%.2f ms\n", en.Label(), mode, float64(p99(idle).Microseconds())/1000)
		fmt.Printf("RESULT sweep_%s%s_call_write_p99_during_sweep=%.2f ms\n", en.Label(), mode, float64(p99(during).Microseconds())/1000)
	}
}

// processCPU is the user and system CPU time the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkExport exports one user with PRIVOX_BENCH_EXPORT_CDRS CDRs (and as many call
// journal entries) and PRIVOX_BENCH_EXPORT_VOICEMAILS voicemails of 32 KiB, and prints the time.
func BenchmarkExport(b *testing.B) {
	for _, en := range storetest.Engines(b) {
		b.Run(en.Label(), func(b *testing.B) { benchExport(b, en) })
	}
}

func benchExport(b *testing.B, en storetest.Engine) {
	ctx := context.Background()
	nCDR, nVM := envInt("PRIVOX_BENCH_EXPORT_CDRS", 2000), envInt("PRIVOX_BENCH_EXPORT_VOICEMAILS", 20)
	b.StopTimer()
	db := storetest.Open(b, en)
	e := newEnv(b, db, privacy.Options{})
	tn := e.tenant(b, "bench", "default")
	u := e.user(b, tn.ID, "u@bench.test")
	other := e.user(b, tn.ID, "other@bench.test")
	fillCDRs(b, db, tn.ID, &u.ID, nCDR, ago(0), true)
	fillCDRs(b, db, tn.ID, &other.ID, nCDR, ago(0), true)
	audio := make([]byte, 32<<10)
	for i := range audio {
		audio[i] = byte(i * 7)
	}
	for i := 0; i < nVM; i++ {
		e.file(b, tn.ID, &u.ID, filestore.KindVoicemail, ago(1), audio)
	}
	if db.Engine() == store.Postgres {
		db.Exec(ctx, `ANALYZE`)
	}
	out := filepath.Join(b.TempDir(), "export.zip")
	for i := 0; i < b.N; i++ {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		m, err := e.eng.Export(ctx, tn.ID, u.ID, f, privacy.System)
		if err == nil {
			err = f.Close()
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Content) != nVM {
			b.Fatalf("exported %d voicemails, want %d", len(m.Content), nVM)
		}
		fi, _ := os.Stat(out)
		fmt.Printf("RESULT export_%s_seconds=%.2f s\n", en.Label(), elapsed.Seconds())
		fmt.Printf("RESULT export_%s_zip_bytes=%d bytes\n", en.Label(), fi.Size())
		b.ReportMetric(elapsed.Seconds(), "s/export")
	}
}
