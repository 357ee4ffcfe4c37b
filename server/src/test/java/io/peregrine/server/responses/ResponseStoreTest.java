package io.peregrine.server.responses;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseStoreTest {

    private static ResponseStore.Stored stored(String id) {
        return new ResponseStore.Stored(new Response(id, "response", 0, "completed", null, null, null, null, "m",
                List.of(), true, null, null, true, null, null, null, List.of(), null, "disabled", null, null, null),
                List.of());
    }

    @Test
    void theLeastRecentlyUsedGoesFirst() {
        ResponseStore store = new ResponseStore(2);
        store.put(stored("a"));
        store.put(stored("b"));
        assertNotNull(store.get("a")); // a is now more recent than b
        store.put(stored("c"));
        assertEquals(2, store.size());
        assertNull(store.get("b"));
        assertNotNull(store.get("a"));
        assertNotNull(store.get("c"));
        assertTrue(store.remove("a"));
        assertFalse(store.remove("a"));
        assertNull(store.get("a"));
    }

    @Test
    void outputItemsAreFoundByTheirIds() {
        ResponseStore store = new ResponseStore(2);
        OutputItem call = new OutputItem.FunctionCall("fc_abc_1", "functions.f:0", "f", "{}", "completed");
        OutputItem text = new OutputItem.Message("msg_abc_0",
                "completed", List.of());
        Response r = stored("resp_abc").response().with("completed", List.of(text, call), null, null, null);
        store.put(new ResponseStore.Stored(r, List.of()));
        assertEquals(call, store.item("fc_abc_1"));
        assertEquals(text, store.item("msg_abc_0"));
        assertNull(store.item("fc_abc_0"), "index 0 is the message");
        assertNull(store.item("fc_abc_2"));
        assertNull(store.item("fc_zzz_1"));
        assertNull(store.item("garbage"));
        assertNull(store.item("fc_abc_x"));
    }

    @Test
    void capacityZeroKeepsNothing() {
        ResponseStore store = new ResponseStore(0);
        store.put(stored("a"));
        assertNull(store.get("a"));
        assertThrows(IllegalArgumentException.class, () -> new ResponseStore(-1));
    }
}
