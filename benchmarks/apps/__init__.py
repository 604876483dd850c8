"""The same routes, with the same response bytes, written for each framework.

Every app answers:

    GET  /                   text/plain  Hello, world!
    GET  /json               {"message":"Hello, world!"}              (async handler)
    GET  /users/{user_id}?q= {"user_id":<int>,"q":"<str>"}          id must be an int, q is required
    POST /items              {"name":..,"quantity":..,"tags":<count>}   1 KB JSON validated into a model
    GET  /sleep              text/plain  Hello, world!  after ``await asyncio.sleep(0)``
    GET  /route{i}/info      {"route":i}           }  1,000 routes registered after the ones above;
    GET  /route{i}/{item_id} {"route":i,"item_id":n} } odd i take an int parameter

Invalid input is answered 422 everywhere. ``common`` holds what they share.
"""
