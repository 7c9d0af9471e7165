package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample(iter int) *Checkpoint {
	return &Checkpoint{
		Header: Header{
			Model:     Model{Sizes: []int{4, 3, 2}, Activation: "tanh"},
			Optimizer: "adam", OptimizerStateful: true,
			Iteration: iter, Epoch: 2, Seed: 7,
			Config: json.RawMessage(`{"lr":0.001}`),
			Extra:  json.RawMessage(`{"wall_s":1.5}`),
		},
		Theta:          []float64{1, -2.5, math.SmallestNonzeroFloat64, math.MaxFloat64, math.Copysign(0, -1), float64(iter)},
		OptimizerState: []float64{3, 0.1, 0.2},
	}
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	c := sample(10)
	path, err := Save(dir, c)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, FileName), path)
	got, from, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, path, from)
	assert.Equal(t, Version, got.Version)
	assert.False(t, got.Created.IsZero())
	assert.Equal(t, c.Model, got.Model)
	assert.Equal(t, "adam", got.Optimizer)
	assert.True(t, got.OptimizerStateful)
	assert.Equal(t, 10, got.Iteration)
	assert.Equal(t, 2, got.Epoch)
	assert.Equal(t, uint64(7), got.Seed)
	assert.JSONEq(t, `{"lr":0.001}`, string(got.Config))
	assert.JSONEq(t, `{"wall_s":1.5}`, string(got.Extra))
	require.Len(t, got.Theta, len(c.Theta))
	for i := range c.Theta {
		assert.Equal(t, math.Float64bits(c.Theta[i]), math.Float64bits(got.Theta[i]), "θ[%d] bit for bit", i)
	}
	assert.Equal(t, c.OptimizerState, got.OptimizerState)

	// A second save keeps the first as the previous checkpoint.
	_, err = Save(dir, sample(20))
	require.NoError(t, err)
	got, _, err = Load(dir)
	require.NoError(t, err)
	assert.Equal(t, 20, got.Iteration)
	prev, err := ReadFile(filepath.Join(dir, PrevName))
	require.NoError(t, err)
	assert.Equal(t, 10, prev.Iteration)

	// Empty optimiser state round-trips as empty.
	c = sample(1)
	c.OptimizerState = nil
	data, err := c.Marshal()
	require.NoError(t, err)
	got, err = Unmarshal(data)
	require.NoError(t, err)
	assert.Empty(t, got.OptimizerState)
}

// TestFailedWriteKeepsOld: a failure at any step of Save leaves the old
// checkpoint in place and no temporary files.
func TestFailedWriteKeepsOld(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		name   string
		inject func()
	}{
		{"sync", func() { syncFile = func(*os.File) error { return boom } }},
		{"rename", func() {
			rename = func(from, to string) error {
				if filepath.Base(to) == FileName {
					return boom
				}
				return os.Rename(from, to)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Save(dir, sample(10))
			require.NoError(t, err)
			tc.inject()
			t.Cleanup(func() { syncFile, rename = (*os.File).Sync, os.Rename })
			_, err = Save(dir, sample(20))
			require.ErrorIs(t, err, boom)
			got, _, err := Load(dir)
			require.NoError(t, err)
			assert.Equal(t, 10, got.Iteration, "the last good checkpoint survives")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range entries {
				assert.NotContains(t, e.Name(), ".tmp-", "temporary file left behind")
			}
		})
	}
}

func TestRefusesNonFinite(t *testing.T) {
	dir := t.TempDir()
	_, err := Save(dir, sample(10))
	require.NoError(t, err)
	c := sample(11)
	c.Theta[2] = math.NaN()
	_, err = Save(dir, c)
	require.ErrorIs(t, err, ErrNotFinite)
	assert.Contains(t, err.Error(), "theta[2] = NaN")
	c = sample(11)
	c.OptimizerState[0] = math.Inf(-1)
	_, err = Save(dir, c)
	require.ErrorIs(t, err, ErrNotFinite)
	got, _, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, 10, got.Iteration)
}

func TestLoadFallsBack(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "no checkpoint in "+dir)

	_, err = Save(dir, sample(10))
	require.NoError(t, err)
	_, err = Save(dir, sample(20))
	require.NoError(t, err)
	// Damage the newest: Load uses the previous one and says so.
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)-9], 0o644))
	got, from, err := Load(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, PrevName), from)
	assert.Equal(t, 10, got.Iteration)
	// A crash between the renames: only the previous one exists.
	require.NoError(t, os.Remove(path))
	got, _, err = Load(dir)
	require.NoError(t, err)
	assert.Equal(t, 10, got.Iteration)
	// Both damaged: both errors.
	require.NoError(t, os.WriteFile(path, []byte("junk"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, PrevName), []byte("SPUCKPT\nmore junk"), 0o644))
	_, _, err = Load(dir)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "previous one")
}

func TestCorrupt(t *testing.T) {
	good, err := sample(3).Marshal()
	require.NoError(t, err)
	withCRC := func(b []byte) []byte {
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(b[len(b)-4:], crcOf(b[:len(b)-4]))
		return b
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, tc := range []struct {
		name string
		data []byte
		err  error
		want string
	}{
		{"empty", nil, ErrCorrupt, "magic"},
		{"not ours", []byte("PK\x03\x04 some zip file here"), ErrCorrupt, "magic"},
		{"version", withCRC(mut(func(b []byte) []byte { b[8] = 9; return b })), ErrVersion, "version 9"},
		{"flipped bit", mut(func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), ErrCorrupt, "CRC"},
		{"truncated", good[:len(good)-8], ErrCorrupt, "CRC"},
		{"header too long", withCRC(mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<23); return b })), ErrCorrupt, "does not fit"},
		{"array too long", replace(good, `"theta","len":6`, `"theta","len":99999999999`), ErrCorrupt, "does not fit"},
		{"array lengths off", replace(good, `"theta","len":6`, `"theta","len":5`), ErrCorrupt, "hold 8 values"},
		{"negative length", replace(good, `"theta","len":6`, `"theta","len":-6`), ErrCorrupt, "does not fit"},
		{"arrays renamed", replace(good, `"theta","len":6`, `"theta2","len":6`), ErrCorrupt, "want theta and optimizer"},
		{"unknown field", replace(good, `"optimizer":"adam"`, `"optimiser":"adam"`), ErrCorrupt, "unknown field"},
		{"header version", replace(good, `"version":1`, `"version":2`), ErrCorrupt, "header says version 2"},
		{"bad JSON", replace(good, `"optimizer":"adam"`, `"optimizer":adam`), ErrCorrupt, "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal(tc.data)
			require.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// replace rewrites the header text, fixing the header length and the CRC.
func replace(b []byte, old, new string) []byte {
	hl := int(binary.LittleEndian.Uint32(b[12:]))
	h := string(b[16 : 16+hl])
	if !strings.Contains(h, old) {
		panic("replace: " + old)
	}
	h = strings.Replace(h, old, new, 1)
	out := append([]byte(nil), b[:16]...)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(h)))
	out = append(out, h...)
	out = append(out, b[16+hl:len(b)-4]...)
	return binary.LittleEndian.AppendUint32(out, crcOf(out))
}

// TestLoadsBeforeInit: a checkpoint written before Model.Init existed (its
// header, from spu train at 8840b7b, has no "init") still loads, and reads
// as the initialisation those runs used; a new one records its init.
func TestLoadsBeforeInit(t *testing.T) {
	// The file image by the format in the package doc, built by hand.
	h := `{"version":1,"created":"2026-12-06T10:14:28.494437808Z","model":{"sizes":[1,1],"activation":"tanh"},` +
		`"optimizer":"adam","optimizer_stateful":true,"iteration":2,"epoch":1,"seed":1,` +
		`"config":{"optimizer":"adam","seed":1},"extra":{"batch":64},` +
		`"arrays":[{"name":"theta","len":2},{"name":"optimizer","len":1}]}`
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	b = append(b, h...)
	for _, v := range []float64{0.5, -1, 3} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.LittleEndian.AppendUint32(b, crcOf(b))
	c, err := Unmarshal(b)
	require.NoError(t, err)
	assert.Equal(t, "", c.Model.Init)
	assert.Equal(t, "he", c.Model.InitName())
	assert.Equal(t, []float64{0.5, -1}, c.Theta)

	c = sample(1)
	c.Model.Init = "torch"
	data, err := c.Marshal()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"init":"torch"`)
	got, err := Unmarshal(data)
	require.NoError(t, err)
	assert.Equal(t, "torch", got.Model.InitName())
}
