package filestore

import "github.com/privox/privox/internal/datacat"

// The kinds of content file Privox stores. Every kind is declared in the registry; Put refuses
// a kind that is not. Ext names the file a subject-access export writes; Mode and Days give a
// kind a default retention of its own (SPEC §2: recordings 40 days; greetings while active).
const (
	KindVoicemail = "voicemail"
	KindGreeting  = "greeting"
	KindFax       = "fax"
	KindRecording = "recording"
	KindMessage   = "im"
	KindUpload    = "upload"
	// KindPrompt is a tenant's recording that replaces a system prompt; it may hold a voice.
	KindPrompt = "prompt"
)

func init() {
	for _, k := range []datacat.FileKind{
		{Kind: KindVoicemail, Category: datacat.UserContent, Table: "content_files", Ext: "wav", Purpose: "Voice messages left for a user"},
		{Kind: KindGreeting, Category: datacat.UserContent, Table: "content_files", Ext: "wav", Mode: datacat.WhileActive, Purpose: "A user's voicemail greetings and recorded name"},
		{Kind: KindFax, Category: datacat.UserContent, Table: "content_files", Ext: "pdf", Purpose: "Received and sent faxes"},
		{Kind: KindRecording, Category: datacat.UserContent, Table: "content_files", Ext: "wav", Mode: datacat.Delete, Days: 40, Purpose: "Call recordings"},
		{Kind: KindMessage, Category: datacat.UserContent, Table: "content_files", Ext: "txt", Purpose: "Instant messages and their attachments"},
		{Kind: KindPrompt, Category: datacat.UserContent, Table: "content_files", Ext: "wav", Mode: datacat.UntilDeleted, Purpose: "Recordings a tenant uploaded to replace system prompts (may contain an employee's voice)"},
		{Kind: KindUpload, Category: datacat.UserContent, Table: "content_files", Ext: "bin", Purpose: "Media uploaded by users (prompts, music on hold)"},
	} {
		datacat.RegisterFileKind(k)
	}
}

func knownKind(kind string) bool {
	for _, k := range datacat.FileKinds() {
		if k.Kind == kind {
			return true
		}
	}
	return false
}
