//! [`Remote`] for [`LocalCluster`]: commands run inside a node's namespace and cgroup; files
//! are copied (the namespaces share one filesystem).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::ControlError;
use crate::local::LocalCluster;
use crate::remote::{Cmd, Output, Remote};
use crate::sys::ip_program;

/// Joins the cgroup given as `$1`, then execs `ip netns exec $3 sh -c $4` (`$2` is `ip`).
/// Joining before the exec means every descendant of the command starts inside the cgroup.
const CGROUP_WRAPPER: &str =
    r#"echo $$ > "$1/cgroup.procs" && exec "$2" netns exec "$3" sh -c "$4""#;

impl LocalCluster {
    /// `remote_path` as a local path: absolute paths are used as they are (all nodes share
    /// the filesystem); relative ones resolve under the node's home, `<root>/<node>`.
    pub fn resolve_path(&self, node: &str, remote_path: &str) -> Result<PathBuf, ControlError> {
        let p = Path::new(remote_path);
        if p.is_absolute() {
            Ok(p.to_path_buf())
        } else {
            Ok(self.node_dir(node)?.join(p))
        }
    }

    fn command_for(&self, node: &str, cmd: &Cmd) -> Result<Command, ControlError> {
        let n = self.state.node(node)?;
        let mut command = match self.cgroup_dir(node)? {
            Some(cg) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(CGROUP_WRAPPER)
                    .arg("rift-exec")
                    .arg(cg)
                    .arg(ip_program())
                    .arg(&n.namespace)
                    .arg(cmd.script());
                c
            }
            None => {
                let mut c = Command::new(ip_program());
                c.args(["netns", "exec", &n.namespace, "sh", "-c"])
                    .arg(cmd.script());
                c
            }
        };
        command
            .current_dir(self.node_dir(node)?)
            .env("RIFT_NODE", &n.name)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        Ok(command)
    }
}

/// Feeds `bytes` to the child's standard input, then closes it. A child that exits without
/// reading is not an error here: its exit status tells.
async fn feed(stdin: Option<tokio::process::ChildStdin>, bytes: Option<&[u8]>) {
    if let (Some(mut pipe), Some(bytes)) = (stdin, bytes) {
        let _ = pipe.write_all(bytes).await;
        let _ = pipe.shutdown().await;
    }
}

#[async_trait]
impl Remote for LocalCluster {
    async fn exec(&self, node: &str, cmd: &Cmd) -> Result<Output, ControlError> {
        let mut command = self.command_for(node, cmd)?;
        tracing::debug!(node, command = %cmd, "exec");
        let mut child = command
            .spawn()
            .map_err(|e| ControlError::io(format!("starting `{cmd}` on {node}"), e))?;
        let pgid = child.id();
        let stdin = child.stdin.take();
        let run = async {
            let (_, out) =
                tokio::join!(feed(stdin, cmd.stdin.as_deref()), child.wait_with_output());
            out
        };
        let out = match cmd.timeout {
            None => run.await,
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(out) => out,
                Err(_) => {
                    if let Some(pgid) = pgid {
                        let _ = std::process::Command::new("kill")
                            .args(["-s", "KILL", "--", &format!("-{pgid}")])
                            .stderr(Stdio::null())
                            .status();
                    }
                    return Err(ControlError::Timeout {
                        node: node.to_string(),
                        what: cmd.to_string(),
                        timeout_ms: limit.as_millis() as u64,
                    });
                }
            },
        }
        .map_err(|e| ControlError::io(format!("waiting for `{cmd}` on {node}"), e))?;
        Output {
            exit_code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
        .checked(node, cmd)
    }

    async fn upload(
        &self,
        node: &str,
        local: &Path,
        remote_path: &str,
    ) -> Result<(), ControlError> {
        let dest = self.resolve_path(node, remote_path)?;
        copy_tree(local, &dest).await
    }

    async fn download(
        &self,
        node: &str,
        remote_path: &str,
        local: &Path,
    ) -> Result<(), ControlError> {
        let src = self.resolve_path(node, remote_path)?;
        copy_tree(&src, local).await
    }
}

/// Copies a file, or a directory tree (with an explicit stack), creating parents.
pub(crate) async fn copy_tree(src: &Path, dest: &Path) -> Result<(), ControlError> {
    let io = |what: &str, p: &Path, e| ControlError::io(format!("{what} {}", p.display()), e);
    let meta = tokio::fs::metadata(src)
        .await
        .map_err(|e| io("reading", src, e))?;
    if !meta.is_dir() {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io("creating", parent, e))?;
        }
        tokio::fs::copy(src, dest)
            .await
            .map_err(|e| io("copying to", dest, e))?;
        return Ok(());
    }
    let mut stack = vec![(src.to_path_buf(), dest.to_path_buf())];
    while let Some((from, to)) = stack.pop() {
        tokio::fs::create_dir_all(&to)
            .await
            .map_err(|e| io("creating", &to, e))?;
        let mut entries = tokio::fs::read_dir(&from)
            .await
            .map_err(|e| io("listing", &from, e))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io("listing", &from, e))?
        {
            let (f, t) = (entry.path(), to.join(entry.file_name()));
            let kind = entry.file_type().await.map_err(|e| io("reading", &f, e))?;
            if kind.is_dir() {
                stack.push((f, t));
            } else {
                tokio::fs::copy(&f, &t)
                    .await
                    .map_err(|e| io("copying to", &t, e))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn copies_trees() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("top"), "1").unwrap();
        std::fs::write(src.join("a/b/deep"), "2").unwrap();
        let dest = dir.path().join("x/y");
        copy_tree(&src, &dest).await.unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("top")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dest.join("a/b/deep")).unwrap(), "2");
        copy_tree(&src.join("top"), &dir.path().join("p/q/file"))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("p/q/file")).unwrap(),
            "1"
        );
        assert!(matches!(
            copy_tree(&dir.path().join("missing"), &dest).await,
            Err(ControlError::Io { .. })
        ));
    }
}
