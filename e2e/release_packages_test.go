package e2e

import (
	"bytes"
	"context"
	"debug/pe"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The release artifacts CI builds (scripts/release --ci, run by
// scripts/test before go test): the linux/amd64 tarball and .deb, the
// windows/amd64 zip and .msi, and SHA256SUMS, in dist/ci. These tests look
// at them as a person installing them would, with Debian's and msitools'
// own tools.

var (
	releaseOnce sync.Once
	releaseDir  string
	releaseErr  error
)

// runTool runs a command, bounded, and returns its combined output.
func runTool(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within 2 minutes:\n%s", name, args, out)
	}
	return string(out), err
}

// headCommit is the commit the checkout is at ("" outside git).
func headCommit(t *testing.T, root string) string {
	out, err := runTool(t, root, nil, "git", "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// release is dist/ci holding the artifacts of this commit, checked
// against SHA256SUMS. Under CI scripts/test made them; elsewhere they are
// made here when missing or of another commit.
func release(t *testing.T) (dir, commit string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	commit = headCommit(t, root)
	releaseOnce.Do(func() {
		releaseDir = filepath.Join(root, "dist", "ci")
		fresh := func() bool {
			debs, _ := filepath.Glob(filepath.Join(releaseDir, "*_linux_amd64.deb"))
			return len(debs) == 1 && (commit == "" || strings.Contains(debs[0], commit[:12]) || os.Getenv("CI") == "true")
		}
		if fresh() {
			return
		}
		if inCI() {
			releaseErr = errMissingRelease
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "scripts/release", "--ci")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			releaseErr = &releaseError{err, out}
		}
	})
	if releaseErr != nil {
		t.Fatal(releaseErr)
	}
	if out, err := runTool(t, releaseDir, nil, "sha256sum", "--strict", "-c", "SHA256SUMS"); err != nil {
		t.Fatalf("the artifacts do not match SHA256SUMS: %v\n%s", err, out)
	}
	return releaseDir, commit
}

type releaseError struct {
	err error
	out []byte
}

func (e *releaseError) Error() string {
	return "scripts/release --ci: " + e.err.Error() + "\n" + string(e.out)
}

var errMissingRelease = &releaseError{err: os.ErrNotExist, out: []byte("dist/ci has no artifacts: scripts/test runs scripts/release --ci before go test")}

// artifact is the one file in dir whose name ends with suffix.
func artifact(t *testing.T, dir, suffix string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "smtpwatch_*"+suffix))
	if len(m) != 1 {
		t.Fatalf("want one smtpwatch_*%s in %s, got %v", suffix, dir, m)
	}
	return m[0]
}

// versionOf is the release version in an artifact's name.
func versionOf(path string) string {
	return regexp.MustCompile(`^smtpwatch_(.+)_(linux|windows|darwin)_`).FindStringSubmatch(filepath.Base(path))[1]
}

// needProgram fails (CI) or skips without a program.
func needProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		skipOrFail(t, "%s is missing (scripts/release installs it)", name)
	}
}

// TestReleaseDeb installs the .deb on this machine with dpkg -i, as root:
// `smtpwatch version` runs from /usr/bin and names the release's version
// and commit; the user unit it ships passes `systemd-analyze verify
// --user` (with its man page, which it ships too); and dpkg -r removes
// every file it installed.
func TestReleaseDeb(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root: it installs the package")
	}
	needProgram(t, "systemd-analyze")
	dir, commit := release(t)
	deb := artifact(t, dir, "_linux_amd64.deb")
	version := versionOf(deb)
	if out, err := runTool(t, "", nil, "dpkg-query", "-W", "-f", "${Status}", "smtpwatch"); err == nil && strings.Contains(out, "installed") {
		skipOrFail(t, "a smtpwatch package is installed here already: the test would replace it")
	}
	if _, err := os.Stat("/usr/bin/smtpwatch"); err == nil {
		skipOrFail(t, "/usr/bin/smtpwatch exists: the test would replace it")
	}
	if out, err := runTool(t, "", nil, "dpkg", "-i", deb); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("dpkg", "-r", "smtpwatch").Run() })

	out, err := runTool(t, "", nil, "/usr/bin/smtpwatch", "version")
	if err != nil || !strings.HasPrefix(out, "smtpwatch "+version+"\n") {
		t.Errorf("smtpwatch version: %v\n%s\nwant it to name %s", err, out, version)
	}
	if commit != "" && !strings.Contains(out, "\ncommit "+commit) {
		t.Errorf("smtpwatch version does not name the commit %s:\n%s", commit, out)
	}

	unit := "/usr/lib/systemd/user/smtpwatch.service"
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	out, err = runTool(t, "", []string{"XDG_RUNTIME_DIR=" + rt}, "systemd-analyze", "verify", "--user", unit)
	if err != nil || out != "" {
		t.Errorf("systemd-analyze verify --user %s: %v\n%s", unit, err, out)
	}
	if out, err := runTool(t, "", nil, "man", "-w", "smtpwatch"); err != nil || strings.TrimSpace(out) != "/usr/share/man/man1/smtpwatch.1.gz" {
		t.Errorf("man -w smtpwatch: %v %q", err, out)
	}

	out, err = runTool(t, "", nil, "dpkg", "-L", "smtpwatch")
	if err != nil {
		t.Fatalf("dpkg -L: %v\n%s", err, out)
	}
	var files []string
	for _, p := range strings.Fields(out) {
		if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
			files = append(files, p)
		}
	}
	for _, want := range []string{"/usr/bin/smtpwatch", unit, "/usr/share/man/man1/smtpwatch.1.gz", "/usr/share/doc/smtpwatch/copyright"} {
		found := false
		for _, f := range files {
			found = found || f == want
		}
		if !found {
			t.Errorf("the package does not install %s: %v", want, files)
		}
	}
	if out, err := runTool(t, "", nil, "dpkg", "-r", "smtpwatch"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	for _, f := range files {
		if _, err := os.Lstat(f); !os.IsNotExist(err) {
			t.Errorf("dpkg -r left %s", f)
		}
	}
	if out, _ := runTool(t, "", nil, "dpkg-query", "-W", "-f", "${Status}", "smtpwatch"); strings.Contains(out, " installed") {
		t.Errorf("still installed after dpkg -r: %s", out)
	}
}

// TestReleaseTarball unpacks the linux tarball: the binary with its
// version and commit, the man page, the unit and the licenses.
func TestReleaseTarball(t *testing.T) {
	dir, commit := release(t)
	tgz := artifact(t, dir, "_linux_amd64.tar.gz")
	version := versionOf(tgz)
	tmp := t.TempDir()
	if out, err := runTool(t, tmp, nil, "tar", "-xzf", tgz); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	top := filepath.Join(tmp, "smtpwatch_"+version+"_linux_amd64")
	for _, f := range []string{"smtpwatch", "smtpwatch.1", "smtpwatch.service", "README.md", "LICENSES.txt"} {
		if _, err := os.Stat(filepath.Join(top, f)); err != nil {
			t.Errorf("the tarball lacks %s: %v", f, err)
		}
	}
	out, err := runTool(t, "", nil, filepath.Join(top, "smtpwatch"), "version")
	if err != nil || !strings.HasPrefix(out, "smtpwatch "+version+"\n") || (commit != "" && !strings.Contains(out, commit)) {
		t.Errorf("the tarball's smtpwatch version: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(top, "LICENSES.txt")); !bytes.Contains(b, []byte("==== github.com/emersion/go-smtp ")) {
		t.Error("LICENSES.txt lacks the licenses of the modules compiled in")
	}
}

// msiTable is one table of an .msi, as msiinfo exports it: its rows by
// column name.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	out, err := runTool(t, "", nil, "msiinfo", "export", msi, table)
	if err != nil {
		t.Fatalf("msiinfo export %s: %v\n%s", table, err, out)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(out, "\r", ""), "\n"), "\n")
	if len(lines) < 3 {
		return nil
	}
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] { // names, types, the table's key line
		f := strings.Split(l, "\t")
		row := map[string]string{}
		for i, c := range cols {
			if i < len(f) {
				row[c] = f[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// TestReleaseMSI inspects the Windows installer with msitools (Windows
// cannot run here): the file table holds smtpwatch.exe and the windowless
// smtpwatchw.exe in Program Files\smtpwatch; the Start menu entry runs
// `smtpwatchw.exe service start --install`, which creates the user's logon
// task at the first start; the package is x64 with the release's version;
// and the programs in its cabinet carry the version and commit.
func TestReleaseMSI(t *testing.T) {
	needProgram(t, "msiinfo")
	needProgram(t, "msiextract")
	dir, commit := release(t)
	msi := artifact(t, dir, "_windows_amd64.msi")
	version := versionOf(msi)

	files := map[string]string{}
	for _, r := range msiTable(t, msi, "File") {
		files[r["FileName"]] = r["Component_"]
	}
	for _, f := range []string{"smtpwatch.exe", "smtpwatchw.exe", "README.txt", "LICENSES.txt"} {
		if files[f] == "" {
			t.Errorf("the File table lacks %s: %v", f, files)
		}
	}
	dirs := map[string]map[string]string{}
	for _, r := range msiTable(t, msi, "Directory") {
		dirs[r["Directory"]] = r
	}
	if d := dirs["INSTALLDIR"]; d["Directory_Parent"] != "ProgramFiles64Folder" || d["DefaultDir"] != "smtpwatch" {
		t.Errorf("INSTALLDIR is %v, want Program Files\\smtpwatch", d)
	}
	comps := map[string]string{}
	for _, r := range msiTable(t, msi, "Component") {
		comps[r["Component"]] = r["Directory_"]
	}
	if comps[files["smtpwatch.exe"]] != "INSTALLDIR" || comps[files["smtpwatchw.exe"]] != "INSTALLDIR" {
		t.Errorf("the programs are not installed in INSTALLDIR: %v", comps)
	}
	shortcuts := msiTable(t, msi, "Shortcut")
	if len(shortcuts) != 1 {
		t.Fatalf("want one shortcut, got %v", shortcuts)
	}
	s := shortcuts[0]
	if s["Directory_"] != "ProgramMenuFolder" || s["Name"] != "smtpwatch" || s["Target"] != "[INSTALLDIR]smtpwatchw.exe" || s["Arguments"] != "service start --install" {
		t.Errorf("the Start menu entry: %v", s)
	}
	props := map[string]string{}
	for _, r := range msiTable(t, msi, "Property") {
		props[r["Property"]] = r["Value"]
	}
	if want := regexp.MustCompile(`^\d+\.\d+\.\d+`).FindString(version); props["ProductVersion"] != want || props["ProductName"] != "smtpwatch" {
		t.Errorf("ProductVersion %q, ProductName %q; want %s", props["ProductVersion"], props["ProductName"], want)
	}
	if out, _ := runTool(t, "", nil, "msiinfo", "suminfo", msi); !strings.Contains(out, "Template: x64;1033") {
		t.Errorf("not an x64 package:\n%s", out)
	}

	// The programs inside, as Windows would install them: amd64 Windows
	// executables (read with debug/pe), the console and the windowless
	// one, that carry the version and commit given to the linker.
	tmp := t.TempDir()
	if out, err := runTool(t, tmp, nil, "msiextract", "-C", tmp, msi); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, out)
	}
	for exe, subsystem := range map[string]uint16{"smtpwatch.exe": pe.IMAGE_SUBSYSTEM_WINDOWS_CUI, "smtpwatchw.exe": pe.IMAGE_SUBSYSTEM_WINDOWS_GUI} {
		var found []string
		filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == exe {
				found = append(found, p)
			}
			return nil
		})
		if len(found) != 1 {
			t.Errorf("msiextract gave %v for %s", found, exe)
			continue
		}
		f, err := pe.Open(found[0])
		if err != nil {
			t.Errorf("%s: %v", exe, err)
			continue
		}
		oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
		if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || !ok || oh.Subsystem != subsystem {
			t.Errorf("%s: machine %#x, subsystem %v; want amd64, %d", exe, f.Machine, oh, subsystem)
		}
		f.Close()
		b, err := os.ReadFile(found[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(version)) || (commit != "" && !bytes.Contains(b, []byte(commit))) {
			t.Errorf("%s does not carry version %s and commit %s", exe, version, commit)
		}
	}
}
