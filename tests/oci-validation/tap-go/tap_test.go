package tap

import (
	"bytes"
	"testing"
)

func TestStream(t *testing.T) {
	var buf bytes.Buffer
	tt := &T{st: &state{out: &buf}}
	tt.Header(0)
	tt.Ok(true, "first")
	tt.Fail("second")
	tt.Todo().Fail("third")
	tt.Skip(2, "why")
	tt.Diagnosticf("n=%d", 1)
	if err := tt.YAML(map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	tt.AutoPlan()
	want := "TAP version 13\nok 1 - first\nnot ok 2 - second\nnot ok 3 - third # TODO\n" +
		"ok 4 # SKIP why\nok 5 # SKIP why\n# n=1\n  ---\n  {\n    \"a\": 1\n  }\n  ...\n1..5\n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
