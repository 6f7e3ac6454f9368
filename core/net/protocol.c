#include "net/protocol.h"

#include <string.h>

static const char *const msg_names[PGD_MSG__COUNT] = {
#define PGD_MSG_NAME_(name, str) [PGD_MSG_##name] = str,
    PGD_MSG_MAP(PGD_MSG_NAME_)
#undef PGD_MSG_NAME_
};

const char *pgd_msg_name(pgd_msg_type_t type) {
  if ((unsigned)type >= (unsigned)PGD_MSG__COUNT) return NULL;
  return msg_names[type];
}

int pgd_msg_parse(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < PGD_MSG__COUNT; i++)
    if (strcmp(name, msg_names[i]) == 0) return i;
  return -1;
}
