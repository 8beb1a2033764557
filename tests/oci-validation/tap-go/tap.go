// Package tap writes Test Anything Protocol (TAP version 13) output.
//
// It is this project's own small stand-in for the import path
// github.com/mndrix/tap-go, which Debian does not package. It implements
// only the API subset that the OCI runtime-tools validation programs use
// (New, Header, Ok, Pass, Fail, Skip, Todo, Diagnostic, Diagnosticf, YAML,
// AutoPlan, Count). Reference: https://testanything.org/tap-version-13-specification.html
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// state is shared by a T and the T values derived from it with Todo, so
// that they number their test points from one sequence.
type state struct {
	out     io.Writer
	counter int
}

// T writes test points to its Writer (standard output by default).
type T struct {
	st   *state
	todo bool
	// Writer receives the TAP stream.
	Writer io.Writer
}

// New returns a T that writes to standard output.
func New() *T {
	return &T{st: &state{out: os.Stdout}, Writer: os.Stdout}
}

func (t *T) w() io.Writer {
	if t.Writer != nil {
		return t.Writer
	}
	return t.st.out
}

func (t *T) printf(format string, args ...interface{}) {
	fmt.Fprintf(t.w(), format, args...)
}

// Header prints the version line and, when testCount is positive, the plan.
func (t *T) Header(testCount int) {
	t.printf("TAP version 13\n")
	if testCount > 0 {
		t.printf("1..%d\n", testCount)
	}
}

// Ok records one test point that passed when test is true.
func (t *T) Ok(test bool, description string) {
	t.st.counter++
	word := "ok"
	if !test {
		word = "not ok"
	}
	line := fmt.Sprintf("%s %d - %s", word, t.st.counter, oneLine(description))
	if t.todo {
		line += " # TODO"
	}
	t.printf("%s\n", line)
}

// Pass records a passing test point.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failing test point.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip records count skipped test points, each with the given reason.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		t.st.counter++
		t.printf("ok %d # SKIP %s\n", t.st.counter, oneLine(description))
	}
}

// Todo returns a T whose test points are marked TODO (their failures are
// expected); it numbers its points in the same sequence as t.
func (t *T) Todo() *T {
	return &T{st: t.st, todo: true, Writer: t.Writer}
}

// Count returns the number of test points recorded so far.
func (t *T) Count() int { return t.st.counter }

// AutoPlan prints the plan "1..N" for the N test points recorded so far.
func (t *T) AutoPlan() {
	t.printf("1..%d\n", t.st.counter)
}

// Diagnostic prints message as comment lines.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf prints a formatted diagnostic.
func (t *T) Diagnosticf(format string, args ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, args...))
}

// YAML prints message as a YAML block attached to the last test point.
// JSON is a subset of YAML 1.2, so the block is written as indented JSON.
func (t *T) YAML(message interface{}) error {
	data, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	t.printf("  ---\n  %s\n  ...\n", data)
	return nil
}

// oneLine keeps a description on its test point's line.
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
