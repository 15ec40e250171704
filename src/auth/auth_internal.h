/* Internal seams between the auth-core modules (validator, scopes, challenges). */
#ifndef DMCP_AUTH_INTERNAL_H
#define DMCP_AUTH_INTERNAL_H

#include "dmcp/auth.h"

/* The validator's scope-hierarchy hook (fn may come back NULL: exact matching). */
void dmcp__validator_implies(const dmcp_validator *v, dmcp_scope_implies_fn *fn, void **userdata);

/* The validator's challenge-scope strategy. */
dmcp_challenge_scope dmcp__validator_challenge_scope(const dmcp_validator *v);

#endif
