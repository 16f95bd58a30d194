// `rlhf kinds`: every stage kind a manifest may use, with the checkpoints and data it reads and its
// settings (defaults, allowed values), straight from the kinds' declarations.

import ArgumentParser
import Jobs

struct KindsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds",
        abstract: "List the stage kinds with their sources, data files and settings.",
        discussion: "--markdown prints the stage part of docs/manifest.md, which is generated from the same declarations."
    )

    @Flag(help: "Print the Markdown tables of docs/manifest.md instead.") var markdown = false

    func run() {
        print(markdown ? ManifestDocs.markdown() : ManifestDocs.text(), terminator: "")
    }
}
