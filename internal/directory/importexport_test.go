package directory_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

const outlookCSV = "First Name,Last Name,Company,Business Phone,Mobile Phone,Home Phone,E-mail Address\r\n" +
	"Hans,Müller,Müller Bau GmbH,030 1234567,+49 (171) 234-5678,,hans@example.test\r\n" +
	"Jürgen,Weiß,,0049 89 987654-12,,(040) 7654321,\r\n" +
	"Zoë,Ängström,Ängström AB,+46 8 123 456 78,,,zoe@example.test\r\n"

func importCSV(t *testing.T, e *env, data []byte, opt directory.ImportOptions) directory.ImportReport {
	t.Helper()
	cs, lines, rep, err := directory.ParseCSV(data, opt.Mapping)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = e.dir.Import(context.Background(), e.company, cs, lines, rep, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCSVImport(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine.Name), func(t *testing.T) {
			ctx := context.Background()
			e := setup(t, engine)
			rep := importCSV(t, e, []byte(outlookCSV), directory.ImportOptions{})
			if !rep.Written || rep.Created != 3 || len(rep.Errors) != 0 || rep.Encoding != "utf-8" {
				t.Fatalf("first import: %+v", rep)
			}
			hits, _ := e.dir.Search(ctx, e.tenant, directory.Viewer{}, "Mül", 10, "test")
			if len(hits) != 1 || hits[0].Contact.E164.Work != "+49301234567" || hits[0].Contact.E164.Mobile != "+491712345678" || hits[0].Contact.Numbers.Mobile != "+49 (171) 234-5678" {
				t.Fatalf("Müller: %+v", hits)
			}
			hits, _ = e.dir.Search(ctx, e.tenant, directory.Viewer{}, "Weiß", 10, "test")
			if len(hits) != 1 || hits[0].Contact.E164.Work != "+498998765412" || hits[0].Contact.E164.Home != "+49407654321" {
				t.Fatalf("Weiß: %+v", hits)
			}
			// The same file again changes nothing; a changed number updates in place.
			rep = importCSV(t, e, []byte(outlookCSV), directory.ImportOptions{})
			if rep.Created != 0 || rep.Updated != 3 || e.dir.Index(e.tenant).Len() != 3 {
				t.Fatalf("re-import: %+v, %d contacts", rep, e.dir.Index(e.tenant).Len())
			}
			// Windows-1252 (Outlook on Western Windows) reads the same.
			w1252, err := charmap.Windows1252.NewEncoder().String(strings.Replace(outlookCSV, "030 1234567", "030 7777777", 1))
			if err != nil {
				t.Fatal(err)
			}
			rep = importCSV(t, e, []byte(w1252), directory.ImportOptions{})
			if rep.Encoding != "windows-1252" || rep.Created != 0 || rep.Updated != 3 {
				t.Fatalf("windows-1252: %+v", rep)
			}
			if n, ok := e.dir.CallerName(e.tenant, "+49307777777", 0); !ok || n != "Hans Müller" {
				t.Fatalf("after the Windows-1252 import: %q %v", n, ok)
			}
		})
	}
}

func TestCSVImportErrors(t *testing.T) {
	e := setup(t, storetest.Engines(t)[0])
	bad := "name,phone\n" +
		"Anna Schmidt,030 111\n" +
		"\"Broken \"quote,030 222\n" +
		",030 333\n" +
		"Anna Schmidt,030 444\n" +
		"Too,many,fields\n" +
		"Bernd Brot,+49 30 555\n"
	rep := importCSV(t, e, []byte(bad), directory.ImportOptions{})
	if rep.Written || e.dir.Index(e.tenant).Len() != 0 {
		t.Fatalf("a file with errors was imported: %+v", rep)
	}
	want := map[int]string{3: "quote", 4: "name", 5: "duplicate of the entry on line 2", 6: "fields"}
	if len(rep.Errors) != len(want) {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	for _, re := range rep.Errors {
		if !strings.Contains(re.Reason, want[re.Line]) {
			t.Errorf("line %d: %q, want %q", re.Line, re.Reason, want[re.Line])
		}
	}
	rep = importCSV(t, e, []byte(bad), directory.ImportOptions{SkipErrors: true})
	if !rep.Written || rep.Created != 2 || e.dir.Index(e.tenant).Len() != 2 {
		t.Fatalf("skipping errors: %+v", rep)
	}
	// A column mapping for headers nobody knows.
	rep = importCSV(t, e, []byte("Wer;Nummer\nCarla Cello;089 123456\n"), directory.ImportOptions{Mapping: map[string]string{"wer": "display_name", "nummer": "tel_work"}})
	if !rep.Written || rep.Created != 1 {
		t.Fatalf("mapped: %+v", rep)
	}
	if _, _, _, err := directory.ParseCSV([]byte("a,b\n1,2\n"), nil); err == nil {
		t.Error("a file without known columns parsed")
	}
}

const cards = `BEGIN:VCARD
VERSION:3.0
UID:abc-1
FN:Hans Müller
N:Müller;Hans;;;
ORG:Müller Bau GmbH;Vertrieb
TEL;TYPE=WORK,VOICE:030 1234567
TEL;TYPE=CELL:0171 2345678
EMAIL;TYPE=INTERNET:hans@example.test
X-UNKNOWN-THING:kept out
ADR;TYPE=WORK:;;Hauptstr. 1;Berlin;;10115;Deutschland
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Petra Schön
N:Schön;Petra;;;
TEL;VALUE=uri;TYPE=home:tel:+49-40-7654321
X-SOCIALPROFILE:whatever
END:VCARD
`

func TestVCardImportExport(t *testing.T) {
	ctx := context.Background()
	e := setup(t, storetest.Engines(t)[0])
	cs, lines, rep, err := directory.ParseVCards([]byte(cards))
	if err != nil {
		t.Fatal(err)
	}
	rep, err = e.dir.Import(ctx, e.company, cs, lines, rep, directory.ImportOptions{})
	if err != nil || !rep.Written || rep.Created != 2 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	hits, _ := e.dir.Search(ctx, e.tenant, directory.Viewer{}, "Müller", 10, "test")
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	h := hits[0].Contact
	if h.Key != "abc-1" || h.Company != "Müller Bau GmbH" || h.Department != "Vertrieb" || h.E164.Mobile != "+491712345678" || h.City != "Berlin" || h.Email != "hans@example.test" {
		t.Errorf("vCard 3.0 contact: %+v", h)
	}
	if n, ok := e.dir.CallerName(e.tenant, "+49407654321", 0); !ok || n != "Petra Schön" {
		t.Errorf("vCard 4.0 tel: uri: %q %v", n, ok)
	}
	for _, v := range []string{"3.0", "4.0"} {
		var buf bytes.Buffer
		if err := e.dir.ExportVCards(ctx, e.company, v, &buf); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, "VERSION:"+v) || !strings.Contains(out, "FN:Hans Müller") || !strings.Contains(out, "ORG:Müller Bau GmbH;Vertrieb") {
			t.Errorf("export %s:\n%s", v, out)
		}
		// The export imports again onto the same entries.
		cs, lines, rep, err := directory.ParseVCards(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		rep, err = e.dir.Import(ctx, e.company, cs, lines, rep, directory.ImportOptions{})
		if err != nil || rep.Created != 0 || rep.Updated != 2 {
			t.Errorf("re-import of the %s export: %+v %v", v, rep, err)
		}
	}
	var buf bytes.Buffer
	if err := e.dir.ExportCSV(ctx, e.company, &buf); err != nil {
		t.Fatal(err)
	}
	cs, lines, rep, err = directory.ParseCSV(buf.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = e.dir.Import(ctx, e.company, cs, lines, rep, directory.ImportOptions{})
	if err != nil || rep.Created != 0 || rep.Updated != 2 {
		t.Errorf("re-import of the CSV export: %+v %v\n%s", rep, err, buf.String())
	}
	_ = store.BookCompany
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(outlookCSV))
	f.Add([]byte("name;phone\n\"a\"\"b\";1\n"))
	f.Add([]byte("Phone 1 - Type,Phone 1 - Value,Name\nMobile,0171 1,X\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, lines, _, err := directory.ParseCSV(b, nil)
		if err == nil && len(cs) != len(lines) {
			t.Fatalf("%d contacts, %d lines", len(cs), len(lines))
		}
	})
}

func FuzzParseVCards(f *testing.F) {
	f.Add([]byte(cards))
	f.Add([]byte("BEGIN:VCARD\nVERSION:4.0\nFN:x\nTEL:\nEND:VCARD\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, lines, _, err := directory.ParseVCards(b)
		if err == nil && len(cs) != len(lines) {
			t.Fatalf("%d contacts, %d lines", len(cs), len(lines))
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"030 1234567", "+49 (171) 234-5678", "0049 89 987654-12", "1001", "+", "00"} {
		f.Add(s, "DE")
	}
	f.Fuzz(func(t *testing.T, number, country string) {
		if e := directory.Normalize(number, country); e != "" && (e[0] != '+' || directory.Normalize(e, "") != e) {
			t.Fatalf("Normalize(%q, %q) = %q, which does not normalise to itself", number, country, e)
		}
	})
}
