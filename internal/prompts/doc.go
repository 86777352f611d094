// Package prompts owns the spoken prompts callers hear: the system set in English and German,
// synthesised with espeak-ng into the data directory at set-up or first start (never downloaded),
// and each tenant's uploaded replacements.
//
// API summary:
//   - Catalog: [Languages] ("en", "de"), [Names] (every prompt), [Text](lang, name), [Known];
//     name constants for the common ones ([Welcome], [MenuFor] … [MenuPress], [PleaseHold],
//     [InvalidChoice], [Goodbye], [OfficeClosed], voicemail phrases VM…); numbers through
//     [Number](lang, n) (0-9999 as "num-N", "hundred-N", "thousand-N" prompts) and keys through
//     [Digits]("12#").
//   - [Generate](ctx, dir, opt) synthesises what is missing or changed into dir/<lang>/<name>.wav
//     as 8 kHz µ-law WAV (atomic per file, a manifest records the text each came from).
//   - [Open](dir, db, files) returns a [Library]: Clip(ctx, tenant, lang, name) gives the
//     tenant's replacement or the system prompt as an audio.Clip; Sound(ctx, tenant, lang,
//     names...) a sequence to play; Replace(ctx, tenant, lang, name, Upload) checks, converts and
//     stores an upload (refusals wrap the audio.Err… values and change nothing); Reset removes a
//     replacement; List shows every prompt and whether the tenant replaced it.
//   - Custom prompts: a tenant may also upload prompts of its own under names "custom-…"
//     ([IsCustom], [Valid]; e.g. a menu's greeting or an option's name: "For" custom-sales
//     "press" num-1). They have no system version: Clip answers [ErrMissing] until uploaded.
//
// Data: a replacement may hold an employee's voice, so it is user_content: a content file of
// kind filestore.KindPrompt, encrypted with the tenant key and kept until the tenant resets it;
// the tenant_prompts row that points at it is configuration. System prompts are not personal
// data.
package prompts
