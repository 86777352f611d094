// Package audio owns telephone audio as numbers: G.711 µ-law and A-law, call-progress tones,
// in-band DTMF detection, voice-activity detection, WAV files and the conversion of uploaded
// audio to 8 kHz. It does no I/O of its own beyond the readers and writers it is given, stores
// nothing, and imports nothing of Privox, so every layer above can use it.
//
// API summary (everything is 8 kHz mono, 20 ms frames of FrameSamples = 160 samples):
//
//   - G.711: [Codec] ([PCMU] = payload type 0, [PCMA] = 8) with Encode/Decode of whole frames
//     and single samples (table look-ups), [Transcode] between the laws (G.711 tables).
//   - Sounds: a [Sound] is immutable and shared; Open returns a [Source] that yields one frame
//     per Read and reports the end. [Clip] (G.711 in memory: prompts), [Tone] (call-progress
//     tones with cadences), [Silence], [Sequence], [Loop] compose into what a player plays.
//   - Tones: [Tones](region) returns a [ToneSet] (dial, ring-back, busy, congestion, call
//     waiting, beep): "de"/"eu" get the 425 Hz German set (ITU-T E.180, 1TR110: ring 1 s on / 4 s
//     off, busy 480/480 ms, congestion 240/240 ms), others the North American precise tones
//     (ring-back 440+480 Hz 2 s / 4 s, busy 480+620 Hz 0.5/0.5 s, reorder 0.25/0.25 s).
//   - [HoldMusic]: the default music on hold, synthesised here (32 s, loops cleanly).
//   - DTMF: [NewDTMFDetector] returns a streaming Goertzel detector; Feed(frame) returns the
//     digit whose key press was recognised in that frame (once per press) or 0. It checks level,
//     twist, relative peak, the tones' share of the energy and the column tone's second
//     harmonic, and requires a minimum duration and a gap, against speech talk-off.
//     [Detect] runs it over a whole buffer.
//   - Voice activity: [NewVAD] returns an energy detector with a noise-floor tracker and
//     hangover; Feed(frame) reports [VADSpeechStart] and [VADSpeechEnd] (end of speech);
//     SilentFor gives the silence time for time-outs.
//   - WAV: [ReadWAV] validates strictly (every size checked against the file, the size limit
//     enforced while reading) and [EncodeWAV]/[WriteWAV] write canonical files; [ClipWAV] and
//     [ParseClip] store clips as G.711 WAV.
//   - Uploads: [Import] and [ImportClip] take a WAV (8 to 48 kHz, mono or stereo, 16-bit PCM or
//     G.711) or raw G.711, enforce [ImportOptions] size and length limits and return 8 kHz audio,
//     resampled by [Resample] (windowed-sinc low-pass, in-house, pure Go). Refusals wrap
//     [ErrNotWAV], [ErrUnsupported], [ErrMalformed], [ErrTooLarge], [ErrTooLong] or [ErrEmpty].
//
// Levels are in dBm0 ([AmplitudeDBm0], [LevelDBm0]): a full-scale sine is +3.17 dBm0.
package audio
