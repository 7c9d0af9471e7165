package proto

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func frame(t testing.TB, typ Type, seq uint16, payload []byte) []byte {
	var dst [MaxFrame]byte
	var scratch [MaxPacket]byte
	n, err := AppendFrame(dst[:], scratch[:], typ, seq, payload)
	require.NoError(t, err)
	return append([]byte(nil), dst[:n]...)
}

func payloads(r *rand.Rand) [][]byte {
	out := [][]byte{{}, {0}, {0, 0, 0}, bytes.Repeat([]byte{0xff}, 254), bytes.Repeat([]byte{1}, 253),
		bytes.Repeat([]byte{7}, 254), bytes.Repeat([]byte{0}, MaxPayload), bytes.Repeat([]byte{0xab}, MaxPayload)}
	for range 200 {
		p := make([]byte, r.IntN(MaxPayload+1))
		for i := range p {
			if r.IntN(4) == 0 {
				p[i] = 0
			} else {
				p[i] = byte(r.UintN(256))
			}
		}
		out = append(out, p)
	}
	return out
}

// Property: every payload round-trips through frame and decoder, whether
// the stream arrives whole, byte by byte or in random chunks; a frame has
// exactly one 0x00, its last byte.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k, p := range payloads(r) {
		f := frame(t, TypeSetBias, uint16(k), p)
		require.Equal(t, 1, bytes.Count(f, []byte{0}), "one delimiter")
		require.Equal(t, byte(0), f[len(f)-1])
		require.LessOrEqual(t, len(f), MaxFrame)
		for _, chunk := range []int{len(f), 1, 1 + r.IntN(17)} {
			var d Decoder
			var got Packet
			var ok bool
			for off := 0; off < len(f); {
				end := min(off+chunk, len(f))
				n, pkt, done, err := d.Feed(f[off:end])
				require.NoError(t, err)
				off += n
				if done {
					got, ok = pkt, true
					require.Equal(t, len(f), off, "the frame ends at its delimiter")
				}
			}
			require.True(t, ok)
			assert.Equal(t, TypeSetBias, got.Type)
			assert.Equal(t, uint16(k), got.Seq)
			assert.Equal(t, uint8(Version), got.Version)
			assert.True(t, bytes.Equal(p, got.Payload), "payload %d (len %d) chunk %d", k, len(p), chunk)
		}
	}
}

func TestCorruptionDetected(t *testing.T) {
	f := frame(t, TypeRun, 9, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	for bit := range (len(f) - 1) * 8 {
		g := append([]byte(nil), f...)
		g[bit/8] ^= 1 << (bit % 8)
		if g[bit/8] == 0 {
			continue // a flip to 0x00 splits the frame: framing error next
		}
		var d Decoder
		_, _, ok, err := d.Feed(g)
		assert.False(t, ok, "bit %d", bit)
		assert.Error(t, err, "bit %d", bit)
	}
}

func TestDecoderErrorsAndResync(t *testing.T) {
	good := frame(t, TypeStatus, 1, []byte{42})
	var d Decoder
	// Oversize garbage (no delimiter for more than MaxFrame bytes), then a
	// delimiter, then a good frame: the garbage is reported, the frame decoded.
	stream := append(bytes.Repeat([]byte{0x55}, MaxFrame+10), 0)
	stream = append(stream, good...)
	n, _, ok, err := d.Feed(stream)
	require.ErrorIs(t, err, ErrTooLarge)
	require.False(t, ok)
	_, pkt, ok, err := d.Feed(stream[n:])
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []byte{42}, pkt.Payload)

	// Stray delimiters are ignored.
	_, pkt, ok, err = d.Feed(append([]byte{0, 0, 0}, good...))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, TypeStatus, pkt.Type)

	// A frame too short for a header and CRC.
	var scratch [16]byte
	m, err := cobsEncode(scratch[:], []byte{1, 2, 3})
	require.NoError(t, err)
	_, _, _, err = d.Feed(append(scratch[:m:m], 0))
	require.ErrorIs(t, err, ErrTruncated)

	// Length field disagreeing with the frame (CRC recomputed so only the
	// length is wrong).
	raw := []byte{Version, byte(TypeRun), 1, 0, 5, 0, 9, 9}
	raw = appendCRC(raw)
	m, err = cobsEncode(scratch[:], raw)
	require.NoError(t, err)
	_, _, _, err = d.Feed(append(scratch[:m:m], 0))
	require.ErrorIs(t, err, ErrLength)

	// Another protocol version.
	raw = appendCRC([]byte{Version + 1, byte(TypeHello), 1, 0, 0, 0})
	m, err = cobsEncode(scratch[:], raw)
	require.NoError(t, err)
	_, pkt, _, err = d.Feed(append(scratch[:m:m], 0))
	require.ErrorIs(t, err, ErrVersion)
	assert.Equal(t, uint8(Version+1), pkt.Version, "the header is returned so the peer can say which version it got")

	// Encoder limits.
	var dst [MaxFrame]byte
	var sc [MaxPacket]byte
	_, err = AppendFrame(dst[:], sc[:], TypeRun, 0, make([]byte, MaxPayload+1))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = AppendFrame(dst[:10], sc[:], TypeRun, 0, make([]byte, 20))
	require.ErrorIs(t, err, ErrShort)
}

func appendCRC(raw []byte) []byte {
	var c [4]byte
	sum := crcOf(raw)
	c[0], c[1], c[2], c[3] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return append(raw, c[:]...)
}

// No allocation per frame, encoding or decoding: firmware runs this on a
// microcontroller without a garbage collector to spare.
func TestNoAllocation(t *testing.T) {
	var dst [MaxFrame]byte
	var scratch [MaxPacket]byte
	payload := bytes.Repeat([]byte{0, 1, 2}, 300)
	var d Decoder
	allocs := testing.AllocsPerRun(100, func() {
		n, err := AppendFrame(dst[:], scratch[:], TypeSampleData, 7, payload)
		if err != nil {
			panic(err)
		}
		if _, _, ok, err := d.Feed(dst[:n]); !ok || err != nil {
			panic("decode")
		}
	})
	assert.Zero(t, allocs)
}

// FuzzDecoder: arbitrary bytes never panic or stall the decoder, and every
// packet it accepts re-encodes to a frame that decodes to the same packet.
func FuzzDecoder(f *testing.F) {
	f.Add(frame(f, TypeHello, 1, []byte{1}))
	f.Add(append(frame(f, TypeRun, 2, []byte{0, 0, 1}), frame(f, TypeStatus, 3, nil)...))
	f.Add([]byte{0, 1, 0, 2, 0xff, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		for off := 0; off < len(data); {
			n, pkt, ok, _ := d.Feed(data[off:])
			if n <= 0 {
				t.Fatalf("no progress at %d", off)
			}
			off += n
			if !ok {
				continue
			}
			if len(pkt.Payload) > MaxPayload {
				t.Fatalf("payload %d > MaxPayload", len(pkt.Payload))
			}
			again := frame(t, pkt.Type, pkt.Seq, pkt.Payload)
			var d2 Decoder
			_, p2, ok2, err := d2.Feed(again)
			if !ok2 || err != nil || p2.Header != pkt.Header || !bytes.Equal(p2.Payload, pkt.Payload) {
				t.Fatalf("re-encoding changed the packet: %v %v", err, p2.Header)
			}
		}
	})
}
