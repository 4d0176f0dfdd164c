/*
 * fabric_select.c - the libfabric provider and domain the baseline runs on:
 * chosen from the same names as ROFI (ROFI_PROVIDER, ROFI_DOMAIN) with the
 * same capabilities asked of fi_getinfo, so that both measure the same
 * provider path; written from fi_getinfo(3), not taken from ROFI.
 */
#include "fabric_select.h"

#include <stdlib.h>
#include <string.h>

/*
 * What fi_getinfo is asked for: the capabilities ROFI asks for, so that both
 * get the same provider and the same protocol path in it (FI_TAGGED, unused
 * here, is what ROFI's collectives need, and can change which provider stack
 * answers).  From fi_getinfo(3):
 *   caps       FI_RMA and FI_TAGGED, plus FI_ATOMIC when `atomic`;
 *   ep type    FI_EP_RDM, reliable datagrams, one endpoint for every peer;
 *   mode       FI_CONTEXT | FI_CONTEXT2: the provider may use each op's
 *              context as its own scratch (ours is a struct fi_context2);
 *   mr_mode    the bits ofi_baseline.c's setup() honors: FI_MR_VIRT_ADDR
 *              (remote addresses are virtual, else offsets), FI_MR_ALLOCATED
 *              (the region is allocated and touched before registration),
 *              FI_MR_PROV_KEY (keys travel with the address), FI_MR_LOCAL
 *              (local buffers are registered: they all lie in the region),
 *              FI_MR_ENDPOINT (the region is bound to the endpoint);
 *   threading  FI_THREAD_DOMAIN: one thread at a time calls into a domain;
 *   data progress left at the provider's default, as ROFI leaves it.
 */
static struct fi_info *fabric_hints(const char *prov, const char *dom, int atomic)
{
    struct fi_info *h = fi_allocinfo();
    if (!h)
        return NULL;
    h->caps = FI_RMA | FI_TAGGED | (atomic ? FI_ATOMIC : 0);
    h->ep_attr->type = FI_EP_RDM;
    h->mode = FI_CONTEXT | FI_CONTEXT2;
    h->domain_attr->mr_mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY |
                              FI_MR_LOCAL | FI_MR_ENDPOINT;
    h->domain_attr->threading = FI_THREAD_DOMAIN;
    /* fi_freeinfo frees these strings with the hints. */
    if ((prov && !(h->fabric_attr->prov_name = strdup(prov))) ||
        (dom && !(h->domain_attr->name = strdup(dom)))) {
        fi_freeinfo(h);
        return NULL;
    }
    return h;
}

/* The first fi_info whose provider and domain are exactly prov and dom
 * (NULL: any), copied; NULL if none. */
static struct fi_info *exact_match(const char *prov, const char *dom, int atomic)
{
    struct fi_info *hints = fabric_hints(prov, dom, atomic), *list = NULL, *found = NULL;
    if (!hints)
        return NULL;
    if (fi_getinfo(FI_VERSION(1, 13), NULL, NULL, 0, hints, &list) == 0)
        for (struct fi_info *i = list; i && !found; i = i->next)
            if ((!prov || !strcmp(i->fabric_attr->prov_name, prov)) &&
                (!dom || !strcmp(i->domain_attr->name, dom)))
                found = fi_dupinfo(i);
    fi_freeinfo(list);
    fi_freeinfo(hints);
    return found;
}

/* Item i (from 0) of the comma-separated `list` into buf: 1, or 0 past its
 * end.  A NULL list has one item, which buf does not hold: "any". */
static int list_item(const char *list, int i, char *buf, size_t cap)
{
    if (!list)
        return i == 0;
    for (; i > 0; i--) {
        if (!(list = strchr(list, ',')))
            return 0;
        list++;
    }
    size_t n = strcspn(list, ",");
    n = n < cap ? n : cap - 1;
    memcpy(buf, list, n);
    buf[n] = '\0';
    return 1;
}

struct fi_info *fabric_select(const char *provs, const char *doms)
{
    char p[256], d[256];
    struct fi_info *found = NULL;
    for (int i = 0; !found && list_item(provs, i, p, sizeof p); i++)
        for (int j = 0; !found && list_item(doms, j, d, sizeof d); j++)
            for (int atomic = 1; atomic >= 0 && !found; atomic--)
                found = exact_match(provs ? p : NULL, doms ? d : NULL, atomic);
    return found;
}
