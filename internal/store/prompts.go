package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0300_tenant_prompts", `
CREATE TABLE tenant_prompts (
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	lang TEXT NOT NULL,
	name TEXT NOT NULL,
	file_id BIGINT NOT NULL REFERENCES content_files(id) ON DELETE CASCADE,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, lang, name)
);
CREATE INDEX tenant_prompts_file ON tenant_prompts(file_id);
`)
	// The row only says which prompt a tenant replaced; the recording itself, which may hold
	// an employee's voice, is a content file of kind "prompt" (user_content, encrypted with the
	// tenant key, kept until the tenant resets the prompt). Deleting the file removes the row.
	datacat.RegisterTable(datacat.Table{Name: "tenant_prompts", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", FileColumn: "file_id",
		Purpose: "Which system prompts a tenant replaced with an uploaded recording"})
}

// TenantPrompt is a tenant's replacement of one system prompt in one language.
type TenantPrompt struct {
	TenantID  int64  `json:"tenant_id"`
	Lang      string `json:"lang"`
	Name      string `json:"name"`
	FileID    int64  `json:"file_id"`
	UpdatedAt int64  `json:"updated_at"`
}

const promptCols = `tenant_id, lang, name, file_id, updated_at`

func scanPrompt(s interface{ Scan(...any) error }) (TenantPrompt, error) {
	var p TenantPrompt
	err := s.Scan(&p.TenantID, &p.Lang, &p.Name, &p.FileID, &p.UpdatedAt)
	return p, mapErr(err)
}

// TenantPrompt returns a tenant's replacement of one prompt (ErrNotFound when there is none).
func (db *DB) TenantPrompt(ctx context.Context, tenantID int64, lang, name string) (TenantPrompt, error) {
	return scanPrompt(db.QueryRow(ctx, `SELECT `+promptCols+` FROM tenant_prompts WHERE tenant_id = ? AND lang = ? AND name = ?`, tenantID, lang, name))
}

// TenantPrompts lists a tenant's replaced prompts.
func (db *DB) TenantPrompts(ctx context.Context, tenantID int64) ([]TenantPrompt, error) {
	rows, err := db.Query(ctx, `SELECT `+promptCols+` FROM tenant_prompts WHERE tenant_id = ? ORDER BY lang, name`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TenantPrompt
	for rows.Next() {
		p, err := scanPrompt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PutTenantPrompt records p, replacing an earlier replacement of the same prompt.
func (db *DB) PutTenantPrompt(ctx context.Context, p TenantPrompt) error {
	_, err := db.Exec(ctx, `INSERT INTO tenant_prompts (`+promptCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, lang, name) DO UPDATE SET file_id = excluded.file_id, updated_at = excluded.updated_at`,
		p.TenantID, p.Lang, p.Name, p.FileID, p.UpdatedAt)
	return err
}
