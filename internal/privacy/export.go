package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// ExportFormat names the layout of a subject-access export.
const ExportFormat = "privox-subject-access-export/1"

// Manifest describes a subject-access export: every category, what of it was found for the
// person, and the retention that applies to it.
type Manifest struct {
	Format      string             `json:"format"`
	GeneratedAt string             `json:"generated_at"`
	Tenant      ManifestTenant     `json:"tenant"`
	UserID      int64              `json:"user_id"`
	Categories  []ManifestCategory `json:"categories"`
	Content     []ManifestFile     `json:"content"`
	Notes       []string           `json:"notes"`
}

// ManifestTenant names the controller.
type ManifestTenant struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	AdminContact string `json:"admin_contact,omitempty"`
}

// ManifestCategory is one category in an export.
type ManifestCategory struct {
	Category    datacat.Category `json:"category"`
	Description string           `json:"description"`
	Retention   EffectiveRule    `json:"retention"`
	Records     int64            `json:"records"`
	Files       []string         `json:"files,omitempty"`
	Tables      []ManifestTable  `json:"tables,omitempty"`
}

// ManifestTable is one table of a category in an export.
type ManifestTable struct {
	Table   string `json:"table"`
	Purpose string `json:"purpose"`
	Records int64  `json:"records"`
	// Withheld lists secret columns (hashes, digests) that are present but not copied out.
	Withheld []string `json:"withheld_columns,omitempty"`
}

// ManifestFile is one content file in an export.
type ManifestFile struct {
	ID        int64  `json:"id"`
	Kind      string `json:"kind"`
	Path      string `json:"path,omitempty"`
	Bytes     int64  `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	// CreatedAtISO is CreatedAt in ISO 8601 (UTC).
	CreatedAtISO string        `json:"created_at_iso"`
	Retention    EffectiveRule `json:"retention"`
	// Unreadable says why the content is not included (crypto-erased, missing).
	Unreadable string `json:"unreadable,omitempty"`
}

// csvCategories are written as CSV as well as JSON: call lists, which people open in a
// spreadsheet.
var csvCategories = map[datacat.Category]bool{datacat.Usage: true, datacat.Traffic: true, datacat.Billing: true}

// Export writes one ZIP with everything stored about a person in a tenant: manifest.json,
// data/<category>.json for every category, data/<table>.csv for call lists, contacts/*.vcf for
// contact tables, and media/<kind>/<id>.<ext> with each content file decrypted. Every table in
// the registry that can name a person is included; a table added later is picked up without
// changes here. Secrets (hashes, digests) are listed but never copied out. The export is
// audited.
func (e *Engine) Export(ctx context.Context, tenantID, userID int64, w io.Writer, a Actor) (Manifest, error) {
	return e.ExportWith(ctx, tenantID, userID, w, a, ExportOptions{})
}

// ExportOptions tune an export.
type ExportOptions struct {
	// Progress, if set, hears of every step: each category written, then each content file
	// (total grows once the categories have named their files).
	Progress func(done, total int, step string)
}

// ExportWith is Export with options.
func (e *Engine) ExportWith(ctx context.Context, tenantID, userID int64, w io.Writer, a Actor, opt ExportOptions) (Manifest, error) {
	progress := func(done, total int, step string) {
		if opt.Progress != nil {
			opt.Progress(done, total, step)
		}
	}
	tn, err := e.db.Tenant(ctx, tenantID)
	if err != nil {
		return Manifest{}, err
	}
	if _, err := e.db.User(ctx, tenantID, userID); err != nil {
		return Manifest{}, err
	}
	if err := e.CheckExport(ctx, tenantID, userID, a); err != nil {
		return Manifest{}, err
	}
	// Recorded before anything is written: an export that cannot be audited is not made.
	if err := e.audit(ctx, e.db, a, tenantID, "export.create", "user", userID, ""); err != nil {
		return Manifest{}, err
	}
	book, err := e.loadRules(ctx)
	if err != nil {
		return Manifest{}, err
	}
	now := time.UnixMilli(e.opt.Now()).UTC()
	m := Manifest{Format: ExportFormat, GeneratedAt: now.Format(time.RFC3339), UserID: userID,
		Tenant: ManifestTenant{ID: tn.ID, Name: tn.Name, AdminContact: tn.AdminContact}}
	zw := zip.NewWriter(w)
	byCat := map[datacat.Category][]datacat.Table{}
	for _, t := range datacat.Tables() {
		if t.LinksPerson() && t.TenantColumn != "" {
			if err := checkTable(t); err != nil {
				return m, err
			}
			byCat[t.Category] = append(byCat[t.Category], t)
		}
	}
	var fileIDs []int64
	seen := map[int64]bool{}
	cats := datacat.Categories()
	for i, c := range cats {
		progress(i, len(cats), string(c))
		mc := ManifestCategory{Category: c, Description: datacat.Description(c), Retention: book.rule(tenantID, c, "")}
		if ts := byCat[c]; len(ts) > 0 {
			ex := &categoryExport{e: e, zw: zw, tenantID: tenantID, userID: userID, mc: &mc, now: now}
			if err := ex.write(ctx, ts); err != nil {
				return m, fmt.Errorf("privacy: export %s: %w", c, err)
			}
			for _, id := range ex.files {
				if !seen[id] {
					seen[id] = true
					fileIDs = append(fileIDs, id)
				}
			}
		}
		m.Categories = append(m.Categories, mc)
	}
	sort.Slice(fileIDs, func(i, j int) bool { return fileIDs[i] < fileIDs[j] })
	for i, id := range fileIDs {
		progress(len(cats)+i, len(cats)+len(fileIDs), "content files")
		mf, err := e.exportFile(ctx, zw, book, tenantID, id, now)
		if err != nil {
			return m, err
		}
		if mf != nil {
			m.Content = append(m.Content, *mf)
		}
	}
	if m.Content == nil {
		m.Content = []ManifestFile{}
	}
	m.Notes = []string{
		"Times are unix milliseconds (UTC) in the columns named at and *_at; beside each, <column>_iso holds the same instant in ISO 8601 (UTC), in the JSON and the CSV files.",
		"Secret columns (password hashes, SIP digest secrets, token digests) are stored but withheld from exports.",
		"Categories marked never_stored are not kept by Privox at all.",
	}
	if err := writeJSONEntry(zw, "manifest.json", now, m); err != nil {
		return m, err
	}
	if err := zw.Close(); err != nil {
		return m, err
	}
	return m, nil
}

// CheckExport says whether a person's data may be exported by an actor. An export for the
// person is access (GDPR Art. 15): made by the person themself, or by the operator on the
// server's command line to answer their request, it is always allowed. An export by anyone
// else (an admin downloading someone's data through the API) passes the data on and is
// processing that CheckProcessing may refuse: not while the person's data is restricted, nor
// once they are deactivated.
func (e *Engine) CheckExport(ctx context.Context, tenantID, userID int64, a Actor) error {
	if a.UserID == nil || *a.UserID == userID {
		return nil
	}
	return e.CheckProcessing(ctx, tenantID, userID, PurposeThirdPartyExport)
}

func writeJSONEntry(zw *zip.Writer, name string, now time.Time, v any) error {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: now})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(fw)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// categoryExport writes one category's JSON file and the CSV and vCard files that go with it.
type categoryExport struct {
	e                *Engine
	zw               *zip.Writer
	tenantID, userID int64
	mc               *ManifestCategory
	now              time.Time
	files            []int64
	after            []func() error // CSV and vCard entries, written once the JSON is closed
}

func (x *categoryExport) write(ctx context.Context, ts []datacat.Table) error {
	name := "data/" + string(x.mc.Category) + ".json"
	fw, err := x.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: x.now})
	if err != nil {
		return err
	}
	x.mc.Files = append(x.mc.Files, name)
	head, _ := json.Marshal(map[string]any{"category": x.mc.Category, "description": x.mc.Description, "retention": x.mc.Retention})
	// The category object is written by hand so that rows stream out one by one.
	if _, err := fmt.Fprintf(fw, "{\n  \"about\": %s,\n  \"tables\": {", head); err != nil {
		return err
	}
	for i, t := range ts {
		if i > 0 {
			io.WriteString(fw, ",")
		}
		n, err := x.table(ctx, fw, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		x.mc.Records += n
		mt := ManifestTable{Table: t.Name, Purpose: t.Purpose, Records: n, Withheld: t.SecretColumns}
		x.mc.Tables = append(x.mc.Tables, mt)
	}
	if _, err := io.WriteString(fw, "\n  }\n}\n"); err != nil {
		return err
	}
	for _, f := range x.after {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (x *categoryExport) table(ctx context.Context, w io.Writer, t datacat.Table) (int64, error) {
	hasID, err := x.e.hasID(ctx, t.Name)
	if err != nil {
		return 0, err
	}
	cond, n := personCond(t)
	q := `SELECT * FROM ` + t.Name + ` WHERE ` + t.TenantColumn + ` = ? AND ` + cond
	if hasID {
		q += ` ORDER BY id`
	}
	rows, err := x.e.db.Query(ctx, q, append([]any{x.tenantID}, repeat(x.userID, n)...)...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	secret := map[string]bool{}
	for _, c := range t.SecretColumns {
		secret[c] = true
	}
	colKeys := make([][]byte, len(cols))
	isoKeys := make([][]byte, len(cols)) // set for time columns: the key of their ISO 8601 sibling
	header := make([]string, 0, len(cols))
	for i, c := range cols {
		colKeys[i], _ = json.Marshal(c)
		header = append(header, c)
		if timeColumn(t, c) && !slices.Contains(cols, c+isoSuffix) {
			isoKeys[i], _ = json.Marshal(c + isoSuffix)
			header = append(header, c+isoSuffix)
		}
	}
	var csvBuf, vcfBuf bytes.Buffer
	var cw *csv.Writer
	if csvCategories[t.Category] {
		cw = csv.NewWriter(&csvBuf)
		cw.Write(header)
	}
	fileCol := -1
	for i, c := range cols {
		if c == t.FileColumn {
			fileCol = i
		}
	}
	fmt.Fprintf(w, "\n    %q: [", t.Name)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	strs := make([]string, 0, len(header))
	var count int64
	var line bytes.Buffer
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return count, err
		}
		line.Reset()
		if count > 0 {
			line.WriteByte(',')
		}
		line.WriteString("\n      {")
		strs = strs[:0]
		for i, v := range vals {
			v = plain(v)
			if secret[cols[i]] && v != nil {
				v = "[withheld]"
			}
			vals[i] = v
			if i > 0 {
				line.WriteByte(',')
			}
			line.Write(colKeys[i])
			line.WriteByte(':')
			js, err := json.Marshal(v)
			if err != nil {
				return count, err
			}
			line.Write(js)
			if cw != nil {
				strs = append(strs, csvValue(v))
			}
			if isoKeys[i] != nil {
				iso := isoTime(v)
				line.WriteByte(',')
				line.Write(isoKeys[i])
				line.WriteByte(':')
				js, _ := json.Marshal(iso)
				line.Write(js)
				if cw != nil {
					strs = append(strs, csvValue(iso))
				}
			}
		}
		line.WriteByte('}')
		if _, err := w.Write(line.Bytes()); err != nil {
			return count, err
		}
		if cw != nil {
			cw.Write(strs)
		}
		if t.VCard != nil {
			writeVCard(&vcfBuf, t.VCard, cols, vals)
		}
		if fileCol >= 0 {
			if id, ok := vals[fileCol].(int64); ok {
				x.files = append(x.files, id)
			}
		}
		count++
	}
	if err := rows.Err(); err != nil {
		return count, err
	}
	io.WriteString(w, "\n    ]")
	if cw != nil {
		cw.Flush()
		name := "data/" + t.Name + ".csv"
		x.mc.Files = append(x.mc.Files, name)
		x.after = append(x.after, func() error { return x.entry(name, csvBuf.Bytes(), zip.Deflate) })
	}
	if t.VCard != nil {
		name := "contacts/" + t.Name + ".vcf"
		x.mc.Files = append(x.mc.Files, name)
		x.after = append(x.after, func() error { return x.entry(name, vcfBuf.Bytes(), zip.Deflate) })
	}
	return count, nil
}

func (x *categoryExport) entry(name string, data []byte, method uint16) error {
	fw, err := x.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: x.now})
	if err != nil {
		return err
	}
	_, err = fw.Write(data)
	return err
}

// isoSuffix names the sibling of a time column that holds the same instant in ISO 8601.
const isoSuffix = "_iso"

// timeColumn reports whether a column holds a time in unix milliseconds: the store's naming
// rule (at, created_at, expires_at, …) and the columns the registry declares as times.
func timeColumn(t datacat.Table, col string) bool {
	return col == "at" || strings.HasSuffix(col, "_at") || col == t.TimeColumn || col == t.ExpiresColumn
}

// isoTime renders a unix-millisecond value as ISO 8601 (RFC 3339) in UTC, with milliseconds;
// nil (no time) stays nil.
func isoTime(v any) any {
	switch ms := v.(type) {
	case int64:
		return formatISO(ms)
	case int:
		return formatISO(int64(ms))
	}
	return nil
}

func formatISO(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// plain turns a driver value into one that encodes as plain JSON.
func plain(v any) any {
	switch t := v.(type) {
	case []byte:
		return string(t)
	case time.Time:
		return t.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func csvValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}

// exportFile writes one content file, decrypted, and describes it.
func (e *Engine) exportFile(ctx context.Context, zw *zip.Writer, book *ruleBook, tenantID, id int64, now time.Time) (*ManifestFile, error) {
	f, err := e.db.ContentFile(ctx, tenantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if f.State != store.FileReady {
		return nil, nil
	}
	mf := &ManifestFile{ID: f.ID, Kind: f.Kind, Bytes: f.Size, CreatedAt: f.CreatedAt, CreatedAtISO: formatISO(f.CreatedAt), Retention: book.rule(tenantID, datacat.UserContent, f.Kind)}
	if e.files == nil {
		mf.Unreadable = "file store not available"
		return mf, nil
	}
	data, _, err := e.files.Decrypt(f, e.files.Path(f))
	switch {
	case errors.Is(err, keys.ErrErased):
		mf.Unreadable = "crypto-erased: the owner's key was destroyed"
		return mf, nil
	case err != nil:
		mf.Unreadable = "unreadable: " + errorKind(err)
		return mf, nil
	}
	ext := "bin"
	if fk, ok := fileKind(f.Kind); ok && fk.Ext != "" {
		ext = fk.Ext
	}
	mf.Path = "media/" + safeName(f.Kind) + "/" + strconv.FormatInt(f.ID, 10) + "." + ext
	mf.Bytes = int64(len(data))
	// Media is stored, not compressed: audio and PDF do not shrink and it keeps exports fast.
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: mf.Path, Method: zip.Store, Modified: time.UnixMilli(f.CreatedAt).UTC()})
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(data); err != nil {
		return nil, err
	}
	clear(data)
	return mf, nil
}

func errorKind(err error) string {
	if errors.Is(err, keys.ErrNoKey) {
		return "no key"
	}
	if strings.Contains(err.Error(), "no such file") {
		return "file missing"
	}
	return "decryption failed"
}

func safeName(s string) string {
	if identRe.MatchString(s) {
		return s
	}
	return "other"
}

// writeVCard writes one row as a vCard 4.0 (RFC 6350) using the table's column mapping.
func writeVCard(w *bytes.Buffer, mapping map[string]string, cols []string, vals []any) {
	props := map[string][]string{}
	for i, c := range cols {
		p, ok := mapping[c]
		if !ok || vals[i] == nil {
			continue
		}
		if s := csvValue(vals[i]); s != "" {
			props[p] = append(props[p], s)
		}
	}
	fn := ""
	if v := props["FN"]; len(v) > 0 {
		fn = v[0]
	} else if v := props["N"]; len(v) > 0 {
		fn = v[0]
	} else if v := props["ORG"]; len(v) > 0 {
		fn = v[0]
	}
	vcardLine(w, "BEGIN:VCARD")
	vcardLine(w, "VERSION:4.0")
	vcardLine(w, "FN:"+vcardEscape(fn))
	names := make([]string, 0, len(props))
	for p := range props {
		if p != "FN" {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	for _, p := range names {
		for _, v := range props[p] {
			switch p {
			case "N":
				vcardLine(w, "N:"+vcardEscape(v)+";;;;")
			case "TEL":
				vcardLine(w, "TEL;VALUE=uri:tel:"+strings.ReplaceAll(v, " ", ""))
			default:
				vcardLine(w, p+":"+vcardEscape(v))
			}
		}
	}
	vcardLine(w, "END:VCARD")
}

func vcardEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\r\n", `\n`, "\n", `\n`).Replace(s)
}

// vcardLine writes a content line folded at 75 octets (RFC 6350 §3.2), never inside a UTF-8
// sequence.
func vcardLine(w *bytes.Buffer, s string) {
	first := true
	for len(s) > 0 {
		limit := 75
		if !first {
			limit = 74
		}
		if len(s) <= limit {
			if !first {
				w.WriteByte(' ')
			}
			w.WriteString(s)
			break
		}
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		if !first {
			w.WriteByte(' ')
		}
		w.WriteString(s[:cut])
		w.WriteString("\r\n")
		s = s[cut:]
		first = false
	}
	w.WriteString("\r\n")
}
