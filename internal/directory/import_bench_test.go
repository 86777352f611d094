package directory_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// BenchmarkImportCSV imports b.N contacts (the ldapload CSV shape) into a company phonebook
// on SQLite and reports contacts per second: "store" as the command-line import does (the
// server indexes at start), "indexed" as the API's import does.
func BenchmarkImportCSV(b *testing.B) {
	b.Run("store", func(b *testing.B) { benchImport(b, true) })
	b.Run("indexed", func(b *testing.B) { benchImport(b, false) })
}

func benchImport(b *testing.B, storeOnly bool) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(b.TempDir(), "p.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ten, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
	db.SetTenantCountry(ctx, ten.ID, "DE")
	dir := directory.New(db, nil, nil)
	dir.StoreOnly = storeOnly
	book, _ := dir.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookCompany, Name: "c"})
	var buf bytes.Buffer
	buf.WriteString("name,given,surname,phone,mobile,email,company\n")
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(&buf, "Given%d Sur%d,Given%d,Sur%d,+4930%07d,+49171%08d,g%d@example.test,Firma %d GmbH\n", i, i, i, i, i, i*7, i, i%400)
	}
	b.ResetTimer()
	start := time.Now()
	cs, lines, rep, err := directory.ParseCSV(buf.Bytes(), nil)
	if err != nil {
		b.Fatal(err)
	}
	rep, err = dir.Import(ctx, book, cs, lines, rep, directory.ImportOptions{})
	if err != nil || rep.Created != b.N {
		b.Fatalf("%+v %v", rep, err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "contacts/s")
}
