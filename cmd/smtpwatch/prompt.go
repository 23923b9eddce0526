package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// prompter asks questions on a terminal for `smtpwatch add`: questions go
// to out (stderr, so that --json output stays clean), answers come from
// in. Every question gives up when ctx ends (Ctrl-C): the read goes on in
// the background, the terminal gets its echo back, and the caller writes
// nothing.
type prompter struct {
	in  *bufio.Reader
	fd  int // the terminal's descriptor for masked input; -1 when in is not a terminal
	out io.Writer
}

func newPrompter(in io.Reader, out io.Writer) *prompter {
	p := &prompter{in: bufio.NewReader(in), fd: -1, out: out}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

// errNoAnswer is returned when the input ended without an answer.
var errNoAnswer = errors.New("no answer: the input ended")

// line asks question and returns the answer without its line break; an
// empty answer gives def.
func (p *prompter) line(ctx context.Context, question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", question)
	}
	type answer struct {
		s   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := p.in.ReadString('\n')
		ch <- answer{s, err}
	}()
	select {
	case a := <-ch:
		s := strings.TrimSpace(a.s)
		if a.err != nil && s == "" {
			fmt.Fprintln(p.out)
			if errors.Is(a.err, io.EOF) {
				return "", errNoAnswer
			}
			return "", a.err
		}
		if s == "" {
			return def, nil
		}
		return s, nil
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return "", context.Cause(ctx)
	}
}

// yes asks a yes/no question; Enter gives def.
func (p *prompter) yes(ctx context.Context, question string, def bool) (bool, error) {
	hint := "Y/n"
	if !def {
		hint = "y/N"
	}
	for range 5 {
		s, err := p.line(ctx, question+" ("+hint+")", "")
		if err != nil {
			return false, err
		}
		switch strings.ToLower(s) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		fmt.Fprintln(p.out, `  Please answer "y" or "n".`)
	}
	return def, nil
}

// choose asks for one of n numbered options already shown; Enter gives
// def (1-based). It returns the 0-based index.
func (p *prompter) choose(ctx context.Context, question string, n, def int) (int, error) {
	for range 5 {
		s, err := p.line(ctx, question, strconv.Itoa(def))
		if err != nil {
			return 0, err
		}
		if k, err := strconv.Atoi(s); err == nil && k >= 1 && k <= n {
			return k - 1, nil
		}
		fmt.Fprintf(p.out, "  Please type a number from 1 to %d.\n", n)
	}
	return def - 1, nil
}

// secret asks for a password without echo on a terminal (a line from a
// pipe otherwise). Ctrl-C during the question restores the terminal's
// echo before it returns.
func (p *prompter) secret(ctx context.Context, question string) (string, error) {
	if p.fd < 0 {
		return p.line(ctx, question, "")
	}
	fmt.Fprintf(p.out, "%s: ", question)
	state, err := term.GetState(p.fd)
	if err != nil {
		return "", err
	}
	type answer struct {
		b   []byte
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		b, err := term.ReadPassword(p.fd)
		ch <- answer{b, err}
	}()
	select {
	case a := <-ch:
		fmt.Fprintln(p.out)
		return string(a.b), a.err
	case <-ctx.Done():
		_ = term.Restore(p.fd, state)
		fmt.Fprintln(p.out)
		return "", context.Cause(ctx)
	}
}
