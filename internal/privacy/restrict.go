package privacy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/privox/privox/internal/store"
)

// Purpose names a kind of processing a subsystem asks permission for with CheckProcessing.
type Purpose string

// The purposes subsystems check before processing a person's data beyond keeping it.
const (
	// PurposeRecording: recording a call the person takes part in.
	PurposeRecording Purpose = "recording"
	// PurposeEmailCopy: mailing a voicemail or fax (or a notice of it) to the person.
	PurposeEmailCopy Purpose = "email_copy"
	// PurposePush: waking the person's mobile softphone through the push gateway.
	PurposePush Purpose = "push"
	// PurposeThirdPartyExport: passing the person's data to a third party (a directory
	// source, a CRM, another controller).
	PurposeThirdPartyExport Purpose = "third_party_export"
	// PurposeTranscription: turning the person's voice messages into text.
	PurposeTranscription Purpose = "transcription"
)

var purposes = map[Purpose]bool{PurposeRecording: true, PurposeEmailCopy: true, PurposePush: true, PurposeThirdPartyExport: true, PurposeTranscription: true}

// RestrictedError says why processing was refused. It matches ErrRestricted with errors.Is.
// Its message names the purpose and the date but never the free-text reason, so that logging
// it discloses nothing.
type RestrictedError struct {
	Purpose  Purpose
	TenantID int64
	UserID   int64
	Since    int64
	// Why is "restricted", "erased" or "deactivated".
	Why string
}

func (e *RestrictedError) Error() string {
	switch e.Why {
	case "erased":
		return fmt.Sprintf("privacy: %s refused: the person's data was erased", e.Purpose)
	case "deactivated":
		return fmt.Sprintf("privacy: %s refused: the person's account is deactivated", e.Purpose)
	}
	return fmt.Sprintf("privacy: %s refused: processing of the person's data is restricted (GDPR Art. 18) since %s", e.Purpose, fmtDay(e.Since))
}

func (e *RestrictedError) Is(target error) bool { return target == ErrRestricted }

// CheckProcessing tells a subsystem whether it may process a person's data for a purpose:
// nil, or an error matching ErrRestricted with a clear reason. Subsystems call it before
// recording, mailing copies, sending pushes or passing data on.
func (e *Engine) CheckProcessing(ctx context.Context, tenantID, userID int64, p Purpose) error {
	if !purposes[p] {
		return invalid("undeclared processing purpose %q", p)
	}
	r, err := e.db.Restriction(ctx, tenantID, userID)
	switch {
	case err == nil:
		return &RestrictedError{Purpose: p, TenantID: tenantID, UserID: userID, Since: r.CreatedAt, Why: "restricted"}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("privacy: check restriction: %w", err)
	}
	if e.vault != nil && e.vault.Erased(tenantID, userID) {
		return &RestrictedError{Purpose: p, TenantID: tenantID, UserID: userID, Why: "erased"}
	}
	u, err := e.db.User(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if !u.Active {
		return &RestrictedError{Purpose: p, TenantID: tenantID, UserID: userID, Why: "deactivated"}
	}
	return nil
}

// Restrict freezes a person's data: it is kept (sweeps and erasure leave it alone) but not
// processed, and CheckProcessing refuses every purpose.
func (e *Engine) Restrict(ctx context.Context, tenantID, userID int64, reason string, a Actor) (store.Restriction, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return store.Restriction{}, invalid("reason: give the reason for the restriction (1 to 500 characters)")
	}
	if _, err := e.db.User(ctx, tenantID, userID); err != nil {
		return store.Restriction{}, err
	}
	var r store.Restriction
	err := e.db.InTx(ctx, func(tx *store.DB) error {
		var err error
		if r, err = tx.SetRestriction(ctx, store.Restriction{TenantID: tenantID, UserID: userID, Reason: reason, CreatedBy: a.Name, CreatedAt: e.opt.Now()}); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "restriction.set", "user", userID, "")
	})
	return r, err
}

// Unrestrict lifts a restriction.
func (e *Engine) Unrestrict(ctx context.Context, tenantID, userID int64, a Actor) error {
	return e.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.DeleteRestriction(ctx, tenantID, userID); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "restriction.lift", "user", userID, "")
	})
}

// Restriction returns a person's restriction (store.ErrNotFound when there is none).
func (e *Engine) Restriction(ctx context.Context, tenantID, userID int64) (store.Restriction, error) {
	return e.db.Restriction(ctx, tenantID, userID)
}
