// What Swift cannot take from Open MPI's header directly, as inline C. MPI's predefined handles
// (MPI_COMM_WORLD, MPI_BYTE, MPI_MAX, …) are macros that cast the address of a library global
// (`((MPI_Comm) &(ompi_mpi_comm_world))`), and MPI_STATUS_IGNORE is a cast of 0: Swift imports
// neither, so each function below evaluates the macro in C.
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm cmpi_comm_world(void)         { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_byte(void)           { return MPI_BYTE; }
static inline MPI_Datatype cmpi_int64(void)          { return MPI_INT64_T; }
static inline MPI_Status *cmpi_status_ignore(void)   { return MPI_STATUS_IGNORE; }
/// Errors come back as return codes (the default, MPI_ERRORS_ARE_FATAL, aborts the job).
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }

#endif
