// Which processes run this command. Under an MPI launcher (`mpirun -np N`, or `srun` with PMI) a
// binary built with RLHF_MPI=1 joins MPI's world; otherwise it is one process and MPI is never
// initialised. A binary built without MPI refuses to be one of several launched ranks (each would run
// the whole job). docs/cluster.md.
//
// This small target is the only one whose code differs between the two builds (with RLHF_MPI=1 it
// also links CollectiveMPI), so switching between them recompiles one file and relinks.

import Collective
import Foundation
#if RLHF_MPI
import CollectiveMPI
#endif

public enum Launch {
    nonisolated(unsafe) private static var started: ProcessGroup?

    /// Whether this binary was built with MPI.
    public static var mpiBuilt: Bool {
        #if RLHF_MPI
        return true
        #else
        return false
        #endif
    }

    /// This process's group, started on first use (only the commands that compute ask for it).
    /// Exits with a message (code 1 when MPI fails to start, 2 for a binary without MPI under a
    /// launcher of several ranks) when there is no group to join.
    public static var world: ProcessGroup {
        if let started { return started }
        let group = start()
        started = group
        return group
    }

    private static func start() -> ProcessGroup {
        #if RLHF_MPI
        if MPIGroup.launched {
            do { return try MPIGroup.world() } catch {
                FileHandle.standardError.write(Data("error: MPI could not start: \(error)\n".utf8))
                exit(1)
            }
        }
        #else
        if let ranks = launchedRanks, ranks > 1 {
            FileHandle.standardError.write(Data(("error: this rlhf was built without MPI but started as one of \(ranks) ranks, "
                + "each of which would run the whole job; build it with `RLHF_MPI=1 swift build -c release` (docs/cluster.md)\n").utf8))
            exit(2)
        }
        #endif
        return SingleProcess()
    }

    /// The number of ranks a launcher started, from its environment (nil outside a launcher).
    static var launchedRanks: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"].lazy
            .compactMap { environment[$0].flatMap(Int.init) }.first
    }

    /// Ends this process with `code`. With several MPI ranks, an outcome every rank reached together
    /// (`agreed`: done, or a stop agreed at the same step) finalises MPI and exits; any other failure
    /// may be this rank's alone while the others wait in a collective, so it ends the whole job
    /// (MPI_Abort, which makes mpirun exit with `code`).
    public static func end(_ code: Int32, agreed: Bool) -> Never {
        #if RLHF_MPI
        if let group = started as? MPIGroup {
            if agreed || group.size == 1 { try? group.finish() } else { group.abort(code: code) }
        }
        #endif
        exit(code)
    }
}
