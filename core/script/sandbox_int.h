/* Pagoda — sandbox, private: what sandbox.c and its bounded library
 * replacements (sandbox_lib.c) share. Both files are compiled into the host
 * (pgd_script) and into the lua plugin.
 *
 * Threads: as sandbox.h (the thread running the sandbox's call). */
#ifndef PAGODA_SCRIPT_SANDBOX_INT_H
#define PAGODA_SCRIPT_SANDBOX_INT_H

#include <lua.h>

/* Charges `instructions` instruction-equivalents of work done inside a C
 * library function to the running call of the sandbox owning `L`, and
 * checks the call's limits (instruction budget, wall-clock time limit,
 * cancel callback). When a limit is reached it raises the same Lua error the
 * count hook raises (and the call ends with that code), so it does not
 * return. Outside a protected call of the sandbox it only counts. */
void pgd_sandbox_charge(lua_State *L, long instructions);

/* Replaces, in the string and table libraries of the global table of `L`
 * (opened already), the functions whose C loops can run long without
 * executing a Lua instruction by bounded copies that charge their work
 * (pgd_sandbox_charge): string.find, string.match, string.gmatch,
 * string.gsub and table.move. Must run inside a protected call. */
void pgd_sandbox_bound_libs(lua_State *L);

#endif
