package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Running the generator into an empty directory reproduces the committed
// icons directory's generated files byte for byte.
func TestGenerateReproducesCommittedFiles(t *testing.T) {
	out := t.TempDir()
	if err := generate(out, true, 1); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(out, path)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		committed, err := os.ReadFile(filepath.Join("..", rel))
		if err != nil {
			t.Errorf("%v: run go generate ./icons/", err)
			return nil
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("icons/%s differs from the generator's output: run go generate ./icons/", filepath.ToSlash(rel))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 6 states x (64 px PNG, 22 px PNG, ICO) + preview.png.
	if n != 6*3+1 {
		t.Errorf("generator wrote %d files, want %d", n, 6*3+1)
	}
}
