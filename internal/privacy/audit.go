package privacy

import (
	"context"
	"errors"
	"fmt"

	"github.com/privox/privox/internal/store"
)

// AuditVerification is the result of checking the audit log's hash chain.
type AuditVerification struct {
	OK      bool  `json:"ok"`
	Entries int64 `json:"entries"`
	FirstID int64 `json:"first_id,omitempty"`
	LastID  int64 `json:"last_id,omitempty"`
	// HeadHash is the hash of the newest entry. Writing it down somewhere else (a ticket, a
	// backup log) lets a later verification prove that no entries were cut off the end, which
	// a chain cannot show by itself.
	HeadHash string `json:"head_hash,omitempty"`
	// Checkpoint is where the chain starts after retention removed older entries.
	Checkpoint *store.ChainCheckpoint `json:"checkpoint,omitempty"`
	Problems   []AuditProblem         `json:"problems,omitempty"`
}

// AuditProblem is one break in the chain.
type AuditProblem struct {
	ID      int64  `json:"id"`
	Problem string `json:"problem"`
}

const maxProblems = 100

// VerifyAudit walks the audit log in chain order and checks that every entry's hash matches
// its fields (an edited line fails), that every entry names its predecessor's hash and ids
// follow without a gap (a deleted line fails), and that the first entry follows on from the
// retention checkpoint, or is the very first entry when nothing was ever trimmed (a deleted
// beginning fails).
func (e *Engine) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	var v AuditVerification
	problem := func(id int64, format string, args ...any) {
		if len(v.Problems) < maxProblems {
			v.Problems = append(v.Problems, AuditProblem{ID: id, Problem: fmt.Sprintf(format, args...)})
		}
	}
	cp, err := e.db.ChainCheckpointOf(ctx, "audit_log")
	switch {
	case err == nil:
		v.Checkpoint = &cp
	case !errors.Is(err, store.ErrNotFound):
		return v, err
	}
	var prev *store.AuditEntry
	for p := (store.Page{Limit: 1000}); ; {
		es, err := e.db.ListAudit(ctx, 0, p)
		if err != nil {
			return v, err
		}
		for i := range es {
			en := es[i]
			v.Entries++
			if got := store.AuditHash(en); got != en.Hash {
				problem(en.ID, "entry was changed: its hash does not match its fields")
			}
			switch {
			case prev == nil && v.Checkpoint != nil:
				v.FirstID = en.ID
				if en.ID != cp.LastID+1 || en.PrevHash != cp.LastHash {
					problem(en.ID, "first entry does not follow the retention checkpoint (entry %d): entries before it were removed or changed", cp.LastID)
				}
			case prev == nil:
				v.FirstID = en.ID
				if en.ID != 1 || en.PrevHash != "" {
					problem(en.ID, "the log does not start at entry 1 and no retention checkpoint explains it: the first entries were removed")
				}
			default:
				if en.ID != prev.ID+1 {
					problem(en.ID, "entries %d to %d are missing", prev.ID+1, en.ID-1)
				}
				if en.PrevHash != prev.Hash {
					problem(en.ID, "chain broken: the entry does not name the hash of entry %d", prev.ID)
				}
			}
			prev = &es[i]
		}
		if len(es) < p.Limit {
			break
		}
		p.After = es[len(es)-1].ID
	}
	if prev != nil {
		v.LastID, v.HeadHash = prev.ID, prev.Hash
	}
	v.OK = len(v.Problems) == 0
	return v, nil
}

// Audit lists audit entries in chain order (the API and the CLI query through the engine).
func (e *Engine) Audit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	return e.db.QueryAudit(ctx, q)
}
