// SIGINT and SIGTERM while a job runs: the first one asks the runner to stop after the current step
// and commit a checkpoint (exit 3, resumable); a second one exits at once with code 3, because the
// last committed checkpoint is still valid (the commit protocol never leaves a partial file under a
// final name). Pre-emption (Slurm, Kubernetes) sends SIGTERM and waits a grace period: one step plus
// one checkpoint fits in it for the models this project trains.
//
// SIGUSR1 asks for the same clean stop but never counts as the second signal: it is what a wrapper
// passes on when the signal may also have reached the job directly (the sbatch script of
// `rlhf submit --slurm`: Slurm sends SIGTERM to every process of a requeued or cancelled job, and
// the script forwards its own SIGTERM; two TERMs would exit at once and lose the current step).
//
// The handler only touches an atomic counter and calls _exit(2), both async-signal-safe; the runner
// polls `StopSignal.requested` between steps. SA_RESTART keeps a write in progress (HDF5) from
// failing with EINTR.

import Foundation
import Synchronization

/// SIGINT/SIGTERM received since `install()`.
private let receivedSignals = Atomic<Int>(0)
/// Whether SIGUSR1 has arrived.
private let receivedStopRequest = Atomic<Bool>(false)

public enum StopSignal {
    /// The exit status of a second signal: interrupted, the last committed checkpoint is resumable.
    public static let immediateExitStatus: Int32 = 3

    /// Installs the handlers for SIGINT and SIGTERM (idempotent).
    public static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            let before = receivedSignals.add(1, ordering: .sequentiallyConsistent).oldValue
            if before >= 1 { _exit(StopSignal.immediateExitStatus) }
        }
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        action.__sigaction_handler.sa_handler = { _ in receivedStopRequest.store(true, ordering: .sequentiallyConsistent) }
        sigaction(SIGUSR1, &action, nil)
        // A parent may have blocked them (the mask is inherited across exec): unblock, or they would
        // stay pending and the job would never hear them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGUSR1)
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }

    /// True once a signal has asked the job to stop.
    public static var requested: Bool {
        receivedSignals.load(ordering: .sequentiallyConsistent) > 0 || receivedStopRequest.load(ordering: .sequentiallyConsistent)
    }
}
