//! Container images for the engine and CRI tests: a busybox root packed as a docker-archive
//! tar (`manifest.json`, an image config, one layer; the format `docker load`, `podman load`
//! and `ctr images import` take), so that no registry is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The static busybox of Debian's `busybox-static`.
pub const BUSYBOX: &str = "/bin/busybox";

/// What goes into the image: extra empty directories, the busybox applets linked in `/bin`,
/// and the image config's `config` object (`Cmd` or `Entrypoint`, `Env`, ...).
pub struct Image<'a> {
    pub tag: &'a str,
    pub dirs: &'a [&'a str],
    pub applets: &'a [&'a str],
    pub config: serde_json::Value,
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(o.status.success(), "sha256sum: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

fn tar(dir: &Path, out: &Path) {
    let st = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar of {}", dir.display());
}

/// Builds `image` under `dir` (in a directory of its own, named after its tag) and returns the
/// path of its docker-archive tar.
pub fn docker_archive(dir: &Path, image: &Image) -> PathBuf {
    let work = dir.join(format!("img-{}", image.tag.replace(['/', ':'], "-")));
    let rootfs = work.join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    for d in image.dirs {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    for applet in image.applets {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let archive = work.join("archive");
    fs::create_dir_all(&archive).unwrap();
    let layer = work.join("layer.tar");
    tar(&rootfs, &layer);
    let layer_hex = sha256(&layer);
    fs::create_dir_all(archive.join(&layer_hex)).unwrap();
    fs::rename(&layer, archive.join(&layer_hex).join("layer.tar")).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": image.config,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]},
    });
    let config_path = work.join("config.json");
    fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let config_hex = sha256(&config_path);
    fs::rename(&config_path, archive.join(format!("{config_hex}.json"))).unwrap();
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [image.tag],
        "Layers": [format!("{layer_hex}/layer.tar")],
    }]);
    fs::write(
        archive.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let out = work.join("image.tar");
    tar(&archive, &out);
    out
}
