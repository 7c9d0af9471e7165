package main

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spu help version and spu version --json work like every other command's.
func TestVersionCommand(t *testing.T) {
	code, out, errOut := spu(t, "help", "version")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "usage: spu version [--json]")
	assert.Contains(t, out, "-json")

	code, out, errOut = spu(t, "version", "--json")
	require.Equal(t, exitOK, code, errOut)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	for _, k := range []string{"version", "revision", "time", "modified", "go", "os", "arch"} {
		assert.Contains(t, v, k)
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errOut = spu(t, args...)
		require.Equal(t, exitOK, code, errOut)
		assert.True(t, strings.HasPrefix(out, "spu "), out)
	}
}

// The VCS stamp go build records (commit, time, modified) is printed; a
// binary without one says so instead of a bare "(devel)".
func TestBuildVersion(t *testing.T) {
	rev := "fe8a4dd3434eb9cf48f3934f5e4e9e9c0cc32c2f"
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-11-27T04:21:23Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := buildVersion(bi)
	assert.Equal(t, rev, v.Revision)
	require.NotNil(t, v.Modified)
	assert.True(t, *v.Modified)
	assert.Contains(t, v.String(), "spu (devel) fe8a4dd3434e+dirty 2026-11-27T04:21:23Z (go")

	bi.Settings[2].Value = "false"
	assert.Contains(t, buildVersion(bi).String(), "spu (devel) fe8a4dd3434e 2026-11-27T04:21:23Z (go")

	bare := buildVersion(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	assert.Nil(t, bare.Modified)
	assert.Contains(t, bare.String(), "no commit recorded")

	tagged := buildVersion(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}})
	assert.True(t, strings.HasPrefix(tagged.String(), "spu v1.2.3 (go"), tagged.String())
}
