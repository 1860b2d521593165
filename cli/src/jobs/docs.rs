//! `wix-media completions SHELL` and `wix-media man [SUBCOMMAND]`: generated from the command
//! line's own definition, so they never drift from it.

use clap::CommandFactory;

use super::{Exit, usage};
use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::output::{self, Stdout, WriteError};

pub fn completions(args: &CompletionsArgs, out: &Stdout) -> Exit {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "wix-media", &mut script);
    write(out, &script)
}

pub fn man(args: &ManArgs, out: &Stdout) -> Exit {
    let cmd = Cli::command();
    let (cmd, title) = match &args.subcommand {
        None => (cmd, "wix-media".to_owned()),
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => (sub.clone(), format!("wix-media-{name}")),
            None => return usage(&format!("no subcommand {name:?}")),
        },
    };
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).title(title).render(&mut page) {
        output::note(&format!("cannot render the manual page: {e}"));
        return Exit::Failed;
    }
    write(out, &page)
}

fn write(out: &Stdout, text: &[u8]) -> Exit {
    match out.text(&String::from_utf8_lossy(text)) {
        Ok(()) => Exit::Ok,
        Err(WriteError::Closed) => Exit::StdoutClosed,
        Err(WriteError::Failed(e)) => {
            output::note(&format!("cannot write to stdout: {e}"));
            Exit::Failed
        }
    }
}
