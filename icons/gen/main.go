// Command gen draws the smtpwatch tray icons and writes them as files:
// png/<state>.png (64 px), png/<state>-22.png and ico/<state>.ico (16, 24,
// 32 and 48 px) under -out, and with -preview also preview.png, a contact
// sheet of every state at 16, 22, 24 and 32 px on a light and a dark panel.
//
// It is run from the icons directory by go generate:
//
//	go generate ./icons/
//
// The drawing itself lives in smtpwatch/icons/internal/artwork, which the
// icons tests use to check that the committed files are up to date.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"smtpwatch/icons/internal/artwork"
)

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", ".", "directory to write png/, ico/ and preview.png into")
	preview := flag.Bool("preview", false, "also write preview.png, the contact sheet")
	scale := flag.Int("scale", 1, "enlarge preview.png by this factor (nearest neighbour), for inspection only")
	flag.Parse()
	if err := generate(*out, *preview, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	return 0
}

func generate(out string, preview bool, scale int) error {
	files, err := artwork.Files()
	if err != nil {
		return err
	}
	if preview {
		sheet, err := artwork.EncodePNG(artwork.Preview(scale))
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		files["preview.png"] = sheet
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write icons: %w", err)
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return fmt.Errorf("write icons: %w", err)
		}
	}
	return nil
}
