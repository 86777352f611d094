package voicemail_test

import (
	"context"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/voicemail"
)

// BenchmarkStoreMessage30s measures what a deposit costs at hang-up: a 30 s message encoded,
// encrypted, written, synced and indexed in one step (the box's count checked inside).
func BenchmarkStoreMessage30s(b *testing.B) {
	db := storetest.Open(b, storetest.Engines(b)[0])
	e := newEnvTB(b, db)
	ctx := context.Background()
	box, err := e.vm.Box(ctx, e.t.ID, "1001")
	if err != nil {
		b.Fatal(err)
	}
	n := voicemail.MaxMessagesPerBox
	box, err = e.vm.Configure(ctx, voicemail.Actor{Name: "bench"}, box, voicemail.Settings{MaxMessages: &n})
	if err != nil {
		b.Fatal(err)
	}
	pcm := tone(30 * time.Second)
	b.SetBytes(int64(2 * len(pcm)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.vm.Store(ctx, box, voicemail.Deposit{CallerNumber: "1002", At: time.Now(), PCM: pcm}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%voicemail.MaxMessagesPerBox == 0 {
			b.StopTimer()
			for {
				ms, err := db.VoicemailMessages(ctx, e.t.ID, box.ID, store.Page{Limit: 1000})
				if err != nil || len(ms) == 0 {
					break
				}
				for _, m := range ms {
					if err := e.vm.Delete(ctx, voicemail.Actor{Name: "bench"}, box, m.ID); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StartTimer()
		}
	}
}
